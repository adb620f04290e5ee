import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Debian package from `scripts/package`, installed into a clean Debian 12 root made by
/// `debootstrap --variant=minbase` (scripts/test makes both, mounts /proc there and passes
/// `SLUICE_TEST_DEB` and `SLUICE_TEST_DEB_ROOT`).
///
/// Everything happens as an operator would do it: `apt-get install ./sluice_….deb` inside the root (the maintainer
/// scripts run there), `sluice check`, `lighty-enable-mod sluice ssl`, sluice started the way the
/// installed unit says (its user, runtime directory, `ExecStartPre` lines and `ExecStart`, read
/// off the unit file: there is no systemd in a chroot), lighttpd started with Debian's own
/// configuration (only its ports changed, and a test certificate), then requests over HTTPS,
/// an upgrade over a changed configuration, and `dpkg --purge`.
@Suite(
    "The Debian package in a clean Debian root", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: DebianRoot.isEnabled, Comment(rawValue: DebianRoot.disabledReason)))
struct DebianPackageTests {
    @Test(
        "apt install: Depends resolved, user, modes, conffiles and a binary that needs no toolchain; sluice check; lighty-enable-mod; the unit's commands start it; a trigger over HTTPS runs; an upgrade keeps a changed config; purge leaves no data and a lighttpd that still starts"
    )
    func installRunPurge() async throws {
        let root = try DebianRoot()
        let deb = try #require(DebianRoot.deb)
        defer { root.cleanUp() }

        // Install.
        try root.copyIn(deb, to: "/tmp/sluice.deb")
        // apt resolves the package's Depends from the archive: a missing library would fail here
        // or in the ldd check below.
        let installStarted = ContinuousClock.now
        let install = try root.run(
            ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "--no-install-recommends", "/tmp/sluice.deb"],
            timeout: .seconds(240))
        try #require(install.succeeded, "\(install)")
        let installTook = ContinuousClock.now - installStarted
        let version = try root.run(["sluice", "version"])
        #expect(version.succeeded && version.stdout.hasPrefix("sluice "), "\(version)")
        // The release binary needs Debian's libraries only: no Swift runtime, nothing missing.
        let needed = try root.run(["ldd", "/usr/lib/sluice/sluice"])
        #expect(needed.succeeded && !needed.stdout.contains("not found") && !needed.stdout.contains("libswift"), "\(needed)")
        let supervisor = try root.run(["ldd", "/usr/lib/sluice/sluice-supervisor"])
        #expect(
            supervisor.stdout.contains("not a dynamic executable") || supervisor.stderr.contains("not a dynamic executable"),
            "\(supervisor)")

        // The system user, and what it may read and write.
        let user = try root.run(["getent", "passwd", "sluice"]).stdout.trimmingCharacters(in: .newlines).split(
            separator: ":", omittingEmptySubsequences: false
        ).map(String.init)
        try #require(user.count == 7, "\(user)")
        #expect(user[5] == "/var/lib/sluice" && user[6].hasSuffix("nologin"), "\(user)")
        let uid = try #require(UInt32(user[2]))
        let gid = try #require(UInt32(user[3]))
        #expect(try root.stat("/etc/sluice/sluice.json5") == .init(mode: 0o640, uid: 0, gid: gid))
        #expect(try root.stat("/etc/sluice") == .init(mode: 0o750, uid: 0, gid: gid))
        #expect(try root.stat("/var/lib/sluice") == .init(mode: 0o700, uid: uid, gid: gid))
        let conffiles = try root.run(["dpkg-query", "-W", "-f=${Conffiles}", "sluice"]).stdout
        #expect(
            conffiles.contains("/etc/sluice/sluice.json5") && conffiles.contains("/etc/lighttpd/conf-available/50-sluice.conf"),
            "\(conffiles)")

        // The shipped configuration is valid as installed.
        let check = try root.run(["sluice", "check", "/etc/sluice/sluice.json5"])
        #expect(check.succeeded && check.stdout.contains(": ok"), "\(check)")

        // lighttpd: the operator's steps from the snippet's header, ports moved off 80/443.
        let http = try MultiBackendTests.Front.freePort()
        let https = try MultiBackendTests.Front.freePort()
        try root.configureLighttpd(http: http, https: https, password: "s3cret pass")
        let enable = try root.run(["lighty-enable-mod", "sluice", "ssl"])
        #expect(enable.succeeded, "\(enable)")
        let syntax = try root.run(["lighttpd", "-tt", "-f", "/etc/lighttpd/lighttpd.conf"])
        try #require(syntax.succeeded, "\(syntax)")

        let unit = try SystemdUnit(text: root.read("/lib/systemd/system/sluice.service"))
        let sluice = try root.start(unit: unit)
        let lighttpd = try root.spawn(["lighttpd", "-D", "-f", "/etc/lighttpd/lighttpd.conf"])
        defer {
            lighttpd.terminate(signal: SIGTERM, timeout: .seconds(10))
            sluice.terminate(signal: SIGTERM, timeout: .seconds(10))
        }
        let client = CurlClient(port: https, user: "admin", password: "s3cret pass")
        try await Self.waitUntil("sluice to answer through lighttpd", logs: { root.logs(sluice, lighttpd) }) {
            (try? client.send("GET", "/sluice/healthz", authenticated: false))?.status == 200
        }

        // Plain HTTP is sent to HTTPS before a password is asked for.
        let plain = try HTTPClient(port: http, passwords: [:]).send("GET", "/sluice/api/v1/whoami")
        #expect(plain.status == 308 && plain.header("Location")?.hasPrefix("https://") == true, "\(plain)")
        // lighttpd's own 401 under /api is the JSON error shape (the package's error files).
        let anonymous = try client.send("GET", "/sluice/api/v1/whoami", authenticated: false)
        #expect(anonymous.status == 401 && anonymous.text.contains(#""status":401"#), "\(anonymous)")
        let wrong = try CurlClient(port: https, user: "admin", password: "wrong").send("GET", "/sluice/api/v1/whoami")
        #expect(wrong.status == 401, "\(wrong)")

        // A trigger runs both tasks as the user sluice; the log says so.
        let triggered = try client.send("POST", "/sluice/api/v1/pipelines/hello/jobs", json: #"{"params":{"who":"debian"}}"#)
        try #require(triggered.status == 202, "\(triggered)\n\(root.logs(sluice, lighttpd))")
        let id = try JobDocument.decode(triggered.body).id
        #expect(triggered.header("Location") == "/sluice/api/v1/jobs/\(id)", "\(triggered)")
        try await Self.waitUntil("job \(id) to succeed", logs: { root.logs(sluice, lighttpd) }) {
            (try? JobDocument.decode(client.send("GET", "/sluice/api/v1/jobs/\(id)").body))?.state == "succeeded"
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: deb)[.size] as? Int) ?? nil
        print(
            "DebianPackageTests: \((deb as NSString).lastPathComponent) (\(size.map { "\($0 / 1024) KiB" } ?? "?")) installed with its Depends "
                + "in \(installTook); job \(id) triggered over HTTPS through lighttpd succeeded")
        let log = try client.send("GET", "/sluice/api/v1/jobs/\(id)/tasks/again/log")
        #expect(log.status == 200 && log.text.contains("hello again debian"), "\(log)")
        let page = try client.send("GET", "/sluice/jobs/\(id)")
        #expect(page.status == 200 && page.text.contains("hello"), "\(page.status)")
        #expect(try root.stat("/var/lib/sluice/sluice.db").uid == uid)

        sluice.terminate(signal: SIGTERM, timeout: .seconds(10))
        #expect(sluice.waitBlocking().exitCode == 0, "\(root.logs(sluice, lighttpd))")
        lighttpd.terminate(signal: SIGTERM, timeout: .seconds(10))

        // An upgrade (the same package again) keeps the administrator's configuration and modes.
        let edited = try root.read("/etc/sluice/sluice.json5") + "// edited by the administrator\n"
        try root.write("/etc/sluice/sluice.json5", edited)
        let reinstall = try root.run(["dpkg", "-i", "/tmp/sluice.deb"])
        #expect(reinstall.succeeded, "\(reinstall)")
        #expect(try root.read("/etc/sluice/sluice.json5") == edited)
        #expect(try root.stat("/etc/sluice/sluice.json5") == .init(mode: 0o640, uid: 0, gid: gid))
        #expect(root.exists("/var/lib/sluice/sluice.db"), "an upgrade must keep the jobs")

        // Purge: the package's files, data and lighttpd link go; the user stays (Debian policy);
        // lighttpd's configuration still passes its own test.
        let purge = try root.run(["dpkg", "--purge", "sluice"])
        #expect(purge.succeeded, "\(purge)")
        for path in [
            "/usr/bin/sluice", "/usr/lib/sluice", "/etc/sluice", "/var/lib/sluice", "/lib/systemd/system/sluice.service",
            "/etc/lighttpd/conf-available/50-sluice.conf", "/etc/lighttpd/conf-enabled/50-sluice.conf", "/usr/share/sluice",
        ] {
            #expect(!root.exists(path), "\(path) is still there after purge")
        }
        #expect(try root.run(["getent", "passwd", "sluice"]).succeeded)
        let after = try root.run(["lighttpd", "-tt", "-f", "/etc/lighttpd/lighttpd.conf"])
        #expect(after.succeeded, "\(after)")
    }

    /// Polls `condition` every 100 ms for up to 30 s; fails with `logs()` if it never holds.
    static func waitUntil(_ what: String, logs: () -> String, _ condition: () throws -> Bool) async throws {
        let held = try await Poll.until(within: .seconds(30), every: .milliseconds(100)) { try condition() }
        if !held { throw HarnessError("timed out waiting for \(what)\n\(logs())") }
    }
}
