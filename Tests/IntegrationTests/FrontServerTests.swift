import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real nginx 1.22 and a real Apache 2.4 (`mod_proxy_fcgi`), Debian 12's packages, each in
/// front of `sluice serve --socket`, configured by the shipped `nginx/sluice.conf` (with Debian's
/// own `fastcgi_params`) and `apache/sluice.conf`.
///
/// The test writes a minimal main configuration for the server (foreground, logs and temporary
/// files in the test's directory, one loopback listener on a free port) that includes the
/// shipped snippet with only its socket and password-file paths replaced. The users are
/// `LighttpdHarness.passwords`, hashed by `openssl passwd -6`; the pipelines and roles are
/// `WalkingSkeletonTests.sluiceConfig`'s (alice: everything, bob: no logs, carol: view only).
/// What runs is the lighttpd suite's scenario: trigger, page, log, cancel, 401/403/404, a form
/// with its CSRF token and a browser's `Origin` (with the port nginx's `$host` drops), and the
/// repeated-header rules.
@Suite("Sluice behind a real nginx and a real Apache", .serialized, .timeLimit(.minutes(3)))
struct FrontServerTests {
    @Test(
        "The shipped snippet: /healthz open without identity; 401 without a password; trigger, job, page, log, cancel; 403 and 404; a form posted with its CSRF token and Origin; two Accept lines served, two Origins refused",
        arguments: FrontServer.Kind.allCases)
    func scenario(kind: FrontServer.Kind) async throws {
        let front = try await FrontServer.start(kind)
        defer { front.shutdown() }
        let client = front.client

        // /healthz needs no password; a Basic header sent there is not turned into an identity.
        let health = try client.send(
            "GET", "/sluice/healthz", headers: [("Authorization", "Basic " + Data("alice:wrong".utf8).base64EncodedString())])
        #expect(health.status == 200, "\(health)")
        // nginx checks the password.
        #expect(try client.send("GET", "/sluice/api/v1/whoami").status == 401)
        let wrong = try client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("Authorization", "Basic " + Data("alice:wrong".utf8).base64EncodedString())])
        #expect(wrong.status == 401, "\(wrong)")
        let whoami = try client.send("GET", "/sluice/api/v1/whoami", as: "alice")
        #expect(whoami.status == 200 && whoami.text.contains("\"alice\""), "\(whoami)\n\(front.logs())")

        // Pages: the mount path redirects to its slash; the job list is HTML.
        let mount = try client.send("GET", "/sluice", as: "alice")
        #expect(mount.status == 301 && mount.header("Location") == "/sluice/", "\(mount)")
        let home = try client.send("GET", "/sluice/", as: "alice")
        #expect(home.status == 200 && home.header("Content-Type")?.hasPrefix("text/html") == true, "\(home.status)")

        // Trigger as bob: 202 with Location; the job succeeds; alice reads a task's log.
        let triggered = try client.postJSON("/sluice/api/v1/pipelines/quick/jobs", #"{"params":{}}"#, as: "bob")
        try #require(triggered.status == 202, "\(triggered)\n\(front.logs())")
        let location = try #require(triggered.header("Location"))
        let (job, last) = try await client.pollJob(at: location, as: "bob", timeout: .seconds(20)) { $0.isFinished }
        #expect(job?.state == "succeeded", "\(last)")
        let log = try client.send("GET", location + "/tasks/only/log", as: "alice")
        #expect(log.status == 200 && log.text == "done\n", "\(log)")
        let page = try client.send("GET", "/sluice/jobs/\(try #require(job?.id))", as: "alice")
        #expect(page.status == 200 && page.text.contains("quick"), "\(page.status)")

        // 403 and 404.
        let carol = try client.postJSON("/sluice/api/v1/pipelines/quick/jobs", #"{"params":{}}"#, as: "carol")
        #expect(carol.status == 403, "\(carol)")
        #expect(try client.send("GET", location + "/tasks/only/log", as: "bob").status == 403)
        #expect(try client.send("GET", "/sluice/api/v1/jobs/999999", as: "alice").status == 404)

        // Cancel a running job.
        let sleeper = try client.postJSON("/sluice/api/v1/pipelines/sleeper/jobs", #"{"params":{}}"#, as: "alice")
        let sleeperLocation = try #require(sleeper.header("Location"), "\(sleeper)")
        _ = try await client.pollJob(at: sleeperLocation, as: "alice", timeout: .seconds(20)) { $0.task("sleep")?.state == "running" }
        let cancel = try client.postJSON(sleeperLocation + "/cancel", "{}", as: "alice")
        #expect((200...299).contains(cancel.status), "\(cancel)")
        let (cancelled, lastCancel) = try await client.pollJob(at: sleeperLocation, as: "alice", timeout: .seconds(20)) { $0.isFinished }
        #expect(cancelled?.state == "cancelled", "\(lastCancel)")

        // A browser's form: the CSRF token of the page, and Origin with the port the browser
        // used, which nginx's $host (Debian's fastcgi_params) drops from HTTP_HOST.
        let form = try client.send("GET", "/sluice/pipelines/quick", as: "alice")
        let token = try #require(AccessControlTests.csrfToken(in: form.text), "no csrf field: \(form.status)")
        let posted = try client.send(
            "POST", "/sluice/pipelines/quick/jobs", as: "alice",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://127.0.0.1:\(front.port)")],
            body: Array("csrf=\(AccessControlTests.formEncode(token))".utf8))
        #expect(posted.status == 303, "\(posted)")
        let crossSite = try client.send(
            "POST", "/sluice/pipelines/quick/jobs", as: "alice",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.example")],
            body: Array("csrf=\(AccessControlTests.formEncode(token))".utf8))
        #expect(crossSite.status == 403, "\(crossSite)")
        let noToken = try client.send(
            "POST", "/sluice/pipelines/quick/jobs", as: "alice",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://127.0.0.1:\(front.port)")],
            body: Array("csrf=wrong".utf8))
        #expect(noToken.status == 403, "\(noToken)")

        // nginx passes a header sent on two lines as two params: merged for Accept, refused (400)
        // for Origin. Apache joins them itself: then the joined Origin is not this site (403).
        let twoAccepts = try client.send(
            "GET", "/sluice/api/v1/whoami", as: "alice", headers: [("Accept", "application/json"), ("Accept", "text/plain")])
        #expect(twoAccepts.status == 200, "\(twoAccepts)")
        let twoOrigins = try client.postJSON(
            "/sluice/api/v1/pipelines/quick/jobs", #"{"params":{}}"#, as: "alice",
            headers: [("Origin", "http://127.0.0.1:\(front.port)"), ("Origin", "http://evil.example")])
        switch kind {
        case .nginx: #expect(twoOrigins.status == 400 && twoOrigins.text.contains("Origin"), "\(twoOrigins)")
        case .apache: #expect(twoOrigins.status == 403 && twoOrigins.text.contains("cross-site"), "\(twoOrigins)")
        }
    }
}

/// nginx or Apache in front of one `sluice serve --socket`, in one temporary directory.
final class FrontServer: @unchecked Sendable {
    /// Which server.
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case nginx
        case apache

        var testDescription: String { self.rawValue }
        /// The shipped snippet: `<repository>/<kind>/sluice.conf`.
        var snippet: String { FrontServer.repositoryFile(self.rawValue + "/sluice.conf") }
        /// What the snippet says in place of the test's socket and password file.
        var shippedSocket: String { "/run/sluice/sluice.sock" }
        var shippedPasswordFile: String { self == .nginx ? "/etc/nginx/sluice.htpasswd" : "/etc/apache2/sluice.htpasswd" }
    }

    let kind: Kind
    let directory: TemporaryDirectory
    private var sluice: ChildProcess?
    private var server: ChildProcess?
    private(set) var port: UInt16 = 0
    var client: HTTPClient { HTTPClient(port: self.port, passwords: LighttpdHarness.passwords) }
    var socket: String { self.directory.file("sluice.sock") }

    private init(kind: Kind, directory: TemporaryDirectory) {
        self.kind = kind
        self.directory = directory
    }

    static func start(_ kind: Kind) async throws -> FrontServer {
        let binary = try Self.findServer(kind)
        let front = FrontServer(kind: kind, directory: try TemporaryDirectory(prefix: "sluice-fs", in: "/tmp"))
        do {
            try await front.startAll(binary)
        } catch {
            front.shutdown()
            throw error
        }
        return front
    }

    private func startAll(_ binary: String) async throws {
        let dir = self.directory.path
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        let config = try HarnessStore.apply(to: WalkingSkeletonTests.sluiceConfig(directory: dir), directory: dir)
        try config.write(toFile: dir + "/sluice.json5", atomically: true, encoding: .utf8)
        let sluice = try ChildProcess(
            path: try LighttpdHarness.findSluiceBinary(), arguments: ["serve", "--config", dir + "/sluice.json5", "--socket", self.socket],
            environment: ["SLUICE_LOG_LEVEL": "info"], stdout: .file(dir + "/sluice.log", append: true), stderr: .sameAsStdout)
        self.sluice = sluice
        let listening = Poll.blockingUntil(within: .seconds(15), every: .milliseconds(20)) {
            var info = stat()
            return !sluice.isRunning || (stat(self.socket, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        }
        guard listening, sluice.isRunning else { throw HarnessError("sluice did not listen\n\(self.logs())") }

        let htpasswd = try LighttpdSnippetTests.writeHtpasswd(in: dir)
        let shipped = try String(contentsOfFile: self.kind.snippet, encoding: .utf8)
        let snippet = shipped.replacingOccurrences(of: self.kind.shippedSocket, with: self.socket)
            .replacingOccurrences(of: self.kind.shippedPasswordFile, with: htpasswd)
        guard snippet.contains(self.socket) && snippet.contains(htpasswd) else {
            throw HarnessError("\(self.kind.snippet) has no socket or password file path to replace")
        }
        try snippet.write(toFile: dir + "/sluice-snippet.conf", atomically: true, encoding: .utf8)
        switch self.kind {
        case .nginx:
            // Debian's own file, as the snippet's `include fastcgi_params` finds it next to nginx.conf.
            try FileManager.default.copyItem(atPath: "/etc/nginx/fastcgi_params", toPath: dir + "/fastcgi_params")
        case .apache:
            // Apache's workers run as www-data (it refuses to serve as root): they must reach the
            // socket and read the password file.
            guard let group = getgrnam("www-data") else { throw HarnessError("no www-data group") }
            let gid = group.pointee.gr_gid
            guard chmod(dir, 0o711) == 0, chown(self.socket, uid_t.max, gid) == 0, chown(htpasswd, uid_t.max, gid) == 0,
                chmod(htpasswd, 0o640) == 0
            else { throw HarnessError("cannot open the socket and password file to www-data (errno \(errno))") }
        }

        for _ in 0..<3 {
            self.port = try MultiBackendTests.Front.freePort()
            let config = dir + "/server.conf"
            try self.serverConfig().write(toFile: config, atomically: true, encoding: .utf8)
            let (checkArguments, runArguments) =
                self.kind == .nginx
                ? (["-t", "-p", dir, "-c", config], ["-p", dir, "-c", config])
                : (["-t", "-f", config], ["-f", config, "-DFOREGROUND"])
            let check = try ChildProcess.run(binary, checkArguments, timeout: .seconds(20))
            guard check.succeeded else {
                throw HarnessError("\(self.kind) refuses the configuration:\n\(check.stderr)\(check.stdout)\n\(self.logs())")
            }
            let process = try ChildProcess(
                path: binary, arguments: runArguments, stdout: .file(dir + "/server-stderr.log", append: true), stderr: .sameAsStdout)
            self.server = process
            let up = await Poll.until(within: .seconds(10), every: .milliseconds(50)) {
                !process.isRunning || (try? self.client.send("GET", "/sluice/healthz"))?.status == 200
            }
            if up && process.isRunning { return }
            process.terminate(signal: SIGKILL)
            self.server = nil
            if !self.logs().contains("Address already in use") { break }
        }
        throw HarnessError("\(self.kind) did not start\n\(self.logs())")
    }

    private func serverConfig() -> String {
        switch self.kind {
        case .nginx: return self.nginxConfig()
        case .apache: return self.apacheConfig()
        }
    }

    /// The test's httpd.conf: foreground, everything in the test's directory, Debian's modules,
    /// one loopback listener, the snippet.
    private func apacheConfig() -> String {
        let dir = self.directory.path
        let modules = ["mpm_event", "authz_core", "authn_core", "authn_file", "authz_user", "auth_basic", "proxy", "proxy_fcgi"]
        return """
            # Written by FrontServerTests.
            ServerRoot "\(dir)"
            ServerName localhost
            \(modules.map { "LoadModule \($0)_module /usr/lib/apache2/modules/mod_\($0).so" }.joined(separator: "\n"))
            User www-data
            Group www-data
            PidFile \(dir)/apache.pid
            Mutex file:\(dir)
            Listen 127.0.0.1:\(self.port)
            ErrorLog \(dir)/server-error.log
            LogLevel warn proxy_fcgi:info
            DocumentRoot \(dir)/tmp
            <Directory />
                Require all denied
            </Directory>
            Include \(dir)/sluice-snippet.conf

            """
    }

    /// The test's nginx.conf: foreground, everything in the test's directory, the snippet in
    /// one loopback server. Workers run as root (as the test does) so that they may open the
    /// socket in the test's private directory.
    private func nginxConfig() -> String {
        let dir = self.directory.path
        return """
            # Written by FrontServerTests.
            daemon off;
            master_process on;
            worker_processes 1;
            user root;
            pid \(dir)/nginx.pid;
            error_log \(dir)/server-error.log info;
            events { worker_connections 64; }
            http {
                access_log \(dir)/nginx-access.log;
                client_body_temp_path \(dir)/tmp/body;
                fastcgi_temp_path \(dir)/tmp/fastcgi;
                proxy_temp_path \(dir)/tmp/proxy;
                uwsgi_temp_path \(dir)/tmp/uwsgi;
                scgi_temp_path \(dir)/tmp/scgi;
                server {
                    listen 127.0.0.1:\(self.port);
                    server_name localhost;
                    include \(dir)/sluice-snippet.conf;
                }
            }

            """
    }

    func logs() -> String {
        let dir = self.directory.path
        return
            "--- \(self.kind)\n\(ChildProcess.read(dir + "/server-error.log").suffix(6000))\n\(ChildProcess.read(dir + "/server-stderr.log"))\n"
            + "--- sluice\n\(ChildProcess.read(dir + "/sluice.log").suffix(6000))"
    }

    func shutdown() {
        self.server?.terminate(signal: SIGTERM, timeout: .seconds(10))
        self.sluice?.terminate(signal: SIGTERM, timeout: .seconds(10))
        if ProcessInfo.processInfo.environment["SLUICE_KEEP_TMP"] == nil { self.directory.remove() }
    }

    /// `<repository>/<relative>`.
    static func repositoryFile(_ relative: String, filePath: String = #filePath) -> String {
        // This file is <root>/Tests/IntegrationTests/FrontServerTests.swift.
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relative).path
    }

    static func findServer(_ kind: Kind) throws -> String {
        let (variable, path, package) = kind == .nginx ? ("NGINX", "/usr/sbin/nginx", "nginx") : ("APACHE2", "/usr/sbin/apache2", "apache2")
        let candidates = [ProcessInfo.processInfo.environment[variable], path].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError(
                "\(package) is not installed (tried \(candidates)): apt-get install \(package), or run scripts/test, which installs it")
        }
        return found
    }
}
