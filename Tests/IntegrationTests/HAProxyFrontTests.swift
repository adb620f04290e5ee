import Foundation
import Postgres
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real HAProxy 2.6 (Debian 12's package) speaking FastCGI (`fcgi-app`) to two `sluice serve`
/// hosts on one PostgreSQL schema, configured by the shipped `haproxy/sluice.cfg`.
///
/// The HAProxy configuration is what an operator would have: a `global` section for a test (no
/// chroot, no daemon, logs to stderr), the `defaults` section of Debian's own
/// `/etc/haproxy/haproxy.cfg`, then the shipped file with only its `bind` lines (one plain
/// loopback port, the HTTPS redirect dropped), `server` lines (the hosts' unix sockets, checks
/// every 300 ms) and `user` lines (the test users, hashed by `openssl passwd -6`) replaced, and a
/// stats page added. Everything else (auth rules, the /healthz exemption, health checks that
/// expect a held lease, `no option keep-conn`, retries and redispatch, path-info) runs as shipped.
@Suite(
    "HAProxy (fcgi-app) in front of several Sluice hosts", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)))
struct HAProxyFrontTests {
    /// What the requests sent after a host's death saw.
    struct AfterDeath: Sendable {
        var failures: [String] = []
        var answered: [String: Int] = [:]
        var downAfter: Duration?
        var slowest = Duration.zero
        var triggered: [Int64] = []
        var sent = 0
    }

    @Test(
        "Two hosts behind HAProxy: health checks over FastCGI see both; 202/301/401 reach the client as sent; 20 parallel requests do not stall; a SIGKILLed host is taken out by the checks, requests after the death all succeed, its job is rescued, and it is back in rotation once restarted"
    )
    func failover() async throws {
        let lease = 2
        let front = try await HAProxyFront.start(backends: ["h1", "h2"], leaseSeconds: lease)
        defer { front.shutdown() }
        let client = front.client

        // Status codes through HAProxy's FastCGI mux: a trigger's 202 keeps its Location (HAProxy
        // made it 302 while Sluice wrote Status: first), the mount path's 301 stays a 301.
        let triggered = try client.postJSON("/sluice/api/v1/pipelines/fan/jobs", #"{"params":{}}"#, as: "alice")
        try #require(triggered.status == 202, "\(triggered)\n\(front.logs())")
        let fanJob = try JobDocument.decode(triggered.body).id
        #expect(triggered.header("Location") == "/sluice/api/v1/jobs/\(fanJob)", "\(triggered)")
        let mount = try client.send("GET", "/sluice", as: "alice")
        #expect(mount.status == 301 && mount.header("Location") == "/sluice/", "\(mount)")
        // HAProxy checks the password: Sluice sees REMOTE_USER only from a checked one.
        let whoami = try client.send("GET", "/sluice/api/v1/whoami", as: "alice")
        #expect(whoami.status == 200 && whoami.body.contains(Array("\"alice\"".utf8)), "\(whoami)")
        let forged = try client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("Authorization", "Basic " + Data("alice:wrong".utf8).base64EncodedString())])
        #expect(forged.status == 401 && forged.header("WWW-Authenticate")?.hasPrefix("Basic") == true, "\(forged)")
        #expect(try client.send("GET", "/sluice/api/v1/whoami").status == 401)
        // HAProxy passes a header sent on two lines as two params: merged (it was a 400), since
        // no decision reads Accept; a second Origin is refused.
        let twoAccepts = try client.send(
            "GET", "/sluice/api/v1/whoami", as: "alice", headers: [("Accept", "application/json"), ("Accept", "text/plain")])
        #expect(twoAccepts.status == 200, "\(twoAccepts)")
        let twoOrigins = try client.postJSON(
            "/sluice/api/v1/pipelines/fan/jobs", #"{"params":{}}"#, as: "alice",
            headers: [("Origin", "http://127.0.0.1:\(front.port)"), ("Origin", "https://evil.example")])
        #expect(twoOrigins.status == 400 && twoOrigins.text.contains("Origin"), "\(twoOrigins)")
        // /healthz needs no password, and an Authorization header sent there is dropped (HAProxy
        // would turn it into REMOTE_USER unchecked).
        let health = try client.send(
            "GET", "/sluice/healthz", headers: [("Authorization", "Basic " + Data("alice:wrong".utf8).base64EncodedString())])
        #expect(health.status == 200, "\(health)")
        _ = try await front.waitForJob(Int64(fanJob)) { $0.state == "succeeded" }

        // 20 requests at once (HAProxy's default keep-conn stalled here for 14 s: libfcgi pins a
        // kept connection to one worker thread). All answer; the time is printed.
        let started = ContinuousClock.now
        let parallel = (0..<20).map { _ in
            MultiBackendTests.OnThread { (try? client.send("GET", "/sluice/api/v1/jobs/\(fanJob)", as: "alice"))?.status ?? -1 }
        }
        var statuses: [Int] = []
        for request in parallel { statuses.append(try await request.value(timeout: .seconds(30)).0) }
        let took = ContinuousClock.now - started
        print(
            "HAProxyFrontTests: 20 parallel GETs through HAProxy in \(took): \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))"
        )
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(took < .seconds(10), "20 parallel requests took \(took): HAProxy queued them behind kept connections?")

        // A job that runs until its gate opens; the host that claimed it will be killed.
        let gated = try front.trigger("gated")
        try await front.poll("job \(gated)'s work to start") { front.runs().contains { $0.job == gated && $0.task == "work" } }
        let ownerName = try #require(front.runs().first { $0.job == gated && $0.task == "work" }?.host)
        let victimIndex = try #require(front.backends.firstIndex { $0.name == ownerName })
        let victim = front.backends[victimIndex]
        let survivor = try #require(front.backends.first { $0.name != ownerName })
        victim.process.terminate(signal: SIGKILL)
        victim.killItsTasks()
        let died = ContinuousClock.now

        // Requests after the death: HAProxy retries a refused connection and redispatches it to
        // the other host, so every one succeeds, before and after the checks take the host out.
        let outcome = await Poll.repeatedlyOnThread(until: died + .seconds(lease + 3), startingWith: AfterDeath()) { result in
            let began = ContinuousClock.now
            do {
                let response: HTTPClient.Response
                if result.sent % 2 == 0 {
                    response = try client.send("GET", "/sluice/healthz")
                    result.answered[MultiBackendTests.hostID(response) ?? "?", default: 0] += 1
                } else {
                    response = try client.postJSON("/sluice/api/v1/pipelines/fan/jobs", #"{"params":{}}"#, as: "alice")
                    if response.status == 202 { result.triggered.append(Int64(try JobDocument.decode(response.body).id)) }
                }
                result.slowest = max(result.slowest, ContinuousClock.now - began)
                if !(200...299).contains(response.status) { result.failures.append("\(response)") }
                if result.downAfter == nil, try front.serverStates()[victim.name]?.hasPrefix("DOWN") == true {
                    result.downAfter = ContinuousClock.now - died
                }
            } catch {
                result.failures.append("\(error)")
            }
            result.sent += 1
        }
        let (failures, answered, downAfter, afterDeath) = (outcome.failures, outcome.answered, outcome.downAfter, outcome.triggered)
        print(
            "HAProxyFrontTests: after \(victim.name) died, \(outcome.sent) requests, \(failures.count) failed, slowest \(outcome.slowest); "
                + "/healthz answered by \(answered.sorted { $0.key < $1.key }); HAProxy marked it DOWN after \(downAfter.map { "\($0)" } ?? "never")"
        )
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))\n\(front.logs())")
        let statesNow = try front.serverStates()
        #expect(downAfter != nil, "HAProxy's checks never took \(victim.name) out: \(statesNow)")
        #expect(answered[victim.name] == nil, "\(answered)")

        // The survivor rescues the job after the lease.
        try await front.poll("\(survivor.name) to run work of job \(gated) as attempt 2", timeout: .seconds(lease + 10)) {
            front.runs().contains { $0.job == gated && $0.task == "work" && $0.attempt == 2 && $0.host == survivor.name }
        }
        front.openGate(job: gated)
        let job = try await front.waitForJob(gated) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)\n\(front.logs())")
        try await front.poll("the jobs triggered after the kill to succeed", timeout: .seconds(20)) {
            try MultiBackendTests.states(of: afterDeath, in: front.db) == ["succeeded": afterDeath.count]
        }

        // Restarted, the host takes its lease again, the checks bring it back, and it answers.
        let restarted = try MultiBackendTests.Backend(
            name: victim.name, directory: victim.directory, binary: LighttpdHarness.findSluiceBinary())
        front.backends[victimIndex] = restarted
        try restarted.waitUntilListening()
        try await front.poll("HAProxy to mark \(victim.name) UP again", timeout: .seconds(20)) {
            try front.serverStates()[victim.name] == "UP"
        }
        try await front.poll("/healthz to be answered by \(victim.name) again") {
            MultiBackendTests.hostID(try client.send("GET", "/sluice/healthz")) == victim.name
        }
    }
}

// MARK: - The front

/// HAProxy in front of `sluice serve` backends (`MultiBackendTests.Backend`), all in one
/// temporary directory, on a fresh PostgreSQL schema.
final class HAProxyFront: BackendGroupFront, @unchecked Sendable {
    let connection: String
    let db: PostgresConnection
    private let drop: () -> Void
    let directory: TemporaryDirectory
    var backends: [MultiBackendTests.Backend] = []
    private var haproxy: ChildProcess?
    private(set) var port: UInt16 = 0
    var client: HTTPClient { HTTPClient(port: self.port, passwords: LighttpdHarness.passwords) }

    private init(connection: String, db: PostgresConnection, drop: @escaping () -> Void, directory: TemporaryDirectory) {
        self.connection = connection
        self.db = db
        self.drop = drop
        self.directory = directory
    }

    /// Starts the backends and HAProxy, and waits until HAProxy's checks see every backend UP.
    static func start(backends names: [String], leaseSeconds: Int) async throws -> HAProxyFront {
        let haproxy = try Self.findHAProxy()
        let (connection, drop) = try PostgresServeTests.makeSchema()
        let front: HAProxyFront
        do {
            let db = try PostgresConnection(connection, password: TestPostgres.password)
            front = HAProxyFront(
                connection: connection, db: db, drop: drop, directory: try TemporaryDirectory(prefix: "sluice-hap", in: "/tmp"))
        } catch {
            drop()
            throw error
        }
        do {
            front.backends = try MultiBackendTests.Backend.startAll(
                names, in: front.directory, connection: connection, leaseSeconds: leaseSeconds)
            try await front.startHAProxy(haproxy)
            try await front.poll("HAProxy to see every backend UP", timeout: .seconds(20)) {
                let states = try front.serverStates()
                return names.allSatisfy { states[$0] == "UP" }
            }
        } catch {
            front.shutdown()
            throw error
        }
        return front
    }

    private func startHAProxy(_ path: String) async throws {
        let file = self.directory.file("haproxy.cfg")
        for _ in 0..<3 {
            self.port = try MultiBackendTests.Front.freePort()
            try self.configuration().write(toFile: file, atomically: true, encoding: .utf8)
            let check = try ChildProcess.run(path, ["-c", "-f", file], timeout: .seconds(20))
            guard check.status == 0 else {
                throw HarnessError("haproxy -c rejects the configuration:\n\(check.stdout)\(check.stderr)\n\(self.configurationText())")
            }
            let process = try ChildProcess(
                path: path, arguments: ["-db", "-f", file],
                stdout: .file(self.directory.file("haproxy.log"), append: true), stderr: .sameAsStdout)
            self.haproxy = process
            // Listening once the stats page answers (the frontend is bound then).
            let up = await Poll.until(within: .seconds(10), every: .milliseconds(50)) {
                !process.isRunning || (try? self.client.send("GET", "/haproxy-stats;csv"))?.status == 200
            }
            if up && process.isRunning { return }
            process.terminate(signal: SIGKILL)
            self.haproxy = nil
            if !self.haproxyLog().contains("cannot bind") && !self.haproxyLog().contains("Address already in use") { break }
        }
        throw HarnessError("haproxy did not start\n\(self.logs())")
    }

    /// The shipped haproxy/sluice.cfg, with the lines an operator edits replaced for this test.
    func configuration() throws -> String {
        let shipped = try String(contentsOfFile: Self.shippedSnippet(), encoding: .utf8)
        let debian = try String(contentsOfFile: "/etc/haproxy/haproxy.cfg", encoding: .utf8)
        // Debian's `defaults` section: from its line to the end of the file.
        guard let defaults = debian.range(of: "\ndefaults") else { throw HarnessError("no defaults section in /etc/haproxy/haproxy.cfg") }
        let users = try LighttpdSnippetTests.hashedPasswords().map { "    user \($0.user) password \($0.hash)" }
        var lines: [String] = []
        var bound = false
        var servers = false
        var userlist = false
        for line in shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("bind ") {
                if !bound {
                    lines.append("    bind 127.0.0.1:\(self.port)")
                    // The test's window into HAProxy: which servers its checks see UP.
                    lines.append("    stats enable")
                    lines.append("    stats uri /haproxy-stats")
                    bound = true
                }
            } else if trimmed.hasPrefix("http-request redirect scheme https") {
                continue
            } else if trimmed.hasPrefix("server ") {
                if !servers {
                    for backend in self.backends {
                        lines.append("    server \(backend.name) \(backend.socket) proto fcgi check inter 300ms fall 2 rise 2")
                    }
                    servers = true
                }
            } else if trimmed.hasPrefix("user ") {
                if !userlist {
                    lines += users
                    userlist = true
                }
            } else {
                lines.append(line)
            }
        }
        guard bound, servers, userlist else { throw HarnessError("haproxy/sluice.cfg has no bind, server or user line to replace") }
        return """
            # Written by HAProxyFrontTests: a test's global section, Debian's defaults, the shipped snippet.
            global
                log stderr format raw local0 info
                maxconn 256

            defaults\(debian[defaults.upperBound...])

            \(lines.joined(separator: "\n"))
            """
    }

    private func configurationText() -> String { ChildProcess.read(self.directory.file("haproxy.cfg")) }

    /// The status HAProxy's checks give each server of backend `sluice` (`UP`, `DOWN`, ...).
    func serverStates() throws -> [String: String] {
        let response = try self.client.send("GET", "/haproxy-stats;csv")
        guard response.status == 200 else { throw HarnessError("stats: \(response)") }
        let rows = String(decoding: response.body, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        guard let header = rows.first, let status = header.firstIndex(of: "status") else { throw HarnessError("stats: \(response)") }
        var states: [String: String] = [:]
        for row in rows.dropFirst() where row.count > status && row[0] == "sluice" && row[1] != "BACKEND" {
            states[String(row[1])] = String(row[status])
        }
        return states
    }

    func haproxyLog() -> String { ChildProcess.read(self.directory.file("haproxy.log")) }

    func logs() -> String {
        "--- haproxy\n\(self.haproxyLog().suffix(8000))\n"
            + self.backends.map { "--- \($0.name)\n\($0.log().suffix(6000))" }.joined(separator: "\n")
    }

    func shutdown() {
        self.haproxy?.terminate(signal: SIGTERM, timeout: .seconds(10))
        for backend in self.backends {
            backend.process.terminate(signal: SIGTERM, timeout: .seconds(10))
            backend.killItsTasks()
        }
        self.db.close()
        self.drop()
        if ProcessInfo.processInfo.environment["SLUICE_KEEP_TMP"] == nil { self.directory.remove() }
    }

    /// `<repository>/haproxy/sluice.cfg`.
    static func shippedSnippet(filePath: String = #filePath) -> String {
        // This file is <root>/Tests/IntegrationTests/HAProxyFrontTests.swift.
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("haproxy").appendingPathComponent("sluice.cfg").path
    }

    static func findHAProxy() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["HAPROXY"], "/usr/sbin/haproxy"].compactMap { $0 }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError(
                "haproxy is not installed (tried \(candidates)): apt-get install haproxy, or run scripts/test, which installs it")
        }
        return path
    }
}
