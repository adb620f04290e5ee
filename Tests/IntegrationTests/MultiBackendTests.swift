import Foundation
import Postgres
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// ONE real lighttpd in front of two `sluice serve` backends on one PostgreSQL schema, as
/// `lighttpd/sluice-hosts.conf` sets it up (there over TCP, here over unix sockets): one
/// `fastcgi.server` prefix listing both backends, `fastcgi.balance`, `disable-time`, and the
/// per-backend `/healthz` routed by the `X-Sluice-Backend` header.
///
/// The test starts everything itself: each backend is `sluice serve --config F --socket PATH`
/// (a child process, its own data directory and `store.postgres.host` `b1`/`b2`, lease 2 s, the
/// pipelines of `MultiHostTests.config`, so the shared `runs` file says which backend ran which
/// attempt), then lighttpd with basic auth as in `LighttpdHarness`. What it measures and asserts
/// is what lighttpd 1.4.69 really does when a backend dies (`src/gw_backend.c`): a refused
/// connection disables the backend for `disable-time` and sends the same request to the other
/// backend, so requests sent after the death all succeed; a request already sent to the backend
/// when it died is not retried and fails. The dead backend's job is rescued by the other after
/// the lease. The numbers are printed (`MultiBackendTests:` lines) for docs/deployment.md.
@Suite(
    "One lighttpd in front of several Sluice backends", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)))
struct MultiBackendTests {
    @Test(
        "Two backends behind one lighttpd (round-robin): 20 triggers all succeed on both; one backend SIGKILLed: later requests all succeed through the other, the in-flight one fails, its job is rescued after the lease"
    )
    func failover() async throws {
        let lease = 2
        let front = try await Front.start(backends: ["b1", "b2"], balance: "round-robin", leaseSeconds: lease)
        defer { front.shutdown() }
        let client = front.client
        let db = try PostgresConnection(front.connection, password: TestPostgres.password)
        defer { db.close() }

        // Both backends answer through lighttpd: /healthz names the host that answered.
        var answeredBy: [String: Int] = [:]
        for _ in 0..<10 {
            let health = try client.send("GET", "/sluice/healthz")
            try #require(health.status == 200, "\(health)\n\(front.logs())")
            answeredBy[Self.hostID(health) ?? "?", default: 0] += 1
        }
        print("MultiBackendTests: 10 /healthz through lighttpd answered by \(answeredBy.sorted { $0.key < $1.key })")
        #expect(answeredBy == ["b1": 5, "b2": 5], "round-robin over two backends: \(answeredBy)")
        // The per-backend /healthz of sluice-hosts.conf: the header picks the backend.
        for name in ["b1", "b2"] {
            for _ in 0..<3 {
                let health = try client.send("GET", "/sluice/healthz", headers: [("X-Sluice-Backend", name)])
                #expect(health.status == 200 && Self.hostID(health) == name, "X-Sluice-Backend: \(name) → \(health)")
            }
        }

        // 20 triggers through lighttpd: all accepted, both backends took some, all jobs succeed.
        var fan: [Int64] = []
        for _ in 0..<20 { fan.append(try front.trigger("fan")) }
        let triggered = front.backends.map { ($0.name, $0.logLines(saying: "job triggered").count) }
        print("MultiBackendTests: 20 triggers taken by \(triggered)")
        #expect(triggered.allSatisfy { $0.1 > 0 } && triggered.map(\.1).reduce(0, +) == 20, "\(triggered)")
        try await front.poll("the 20 jobs to succeed", timeout: .seconds(30)) {
            try Self.states(of: fan, in: db) == ["succeeded": 20]
        }
        let ranOn = Dictionary(grouping: front.runs().filter { fan.contains($0.job) }, by: \.host).mapValues {
            Set($0.map(\.job)).count
        }
        print("MultiBackendTests: the 20 jobs ran on \(ranOn.sorted { $0.key < $1.key })")

        // A job that runs until its gate opens; find the backend that claimed it.
        let gated = try front.trigger("gated")
        try await front.poll("job \(gated)'s work to start") { front.runs().contains { $0.job == gated && $0.task == "work" } }
        let ownerName = try #require(front.runs().first { $0.job == gated && $0.task == "work" }?.host)
        let victim = try #require(front.backends.first { $0.name == ownerName })
        let survivor = try #require(front.backends.first { $0.name != ownerName })
        print("MultiBackendTests: job \(gated) runs on \(victim.name); \(victim.name) will be killed")

        // Two long-polls on the job, opened one after the other: round-robin puts one on each backend.
        let api = "/sluice/api/v1/jobs/\(gated)"
        let etag = try #require(try client.send("GET", api, as: "alice").header("ETag"))
        // On threads of their own: blocking in the cooperative pool (two threads on a two-CPU
        // machine) would stall the rest of the test until they end.
        var polls: [OnThread<Result<HTTPClient.Response, Error>>] = []
        for _ in 0..<2 {
            polls.append(OnThread { Result { try client.send("GET", api + "?wait=15", as: "alice", headers: [("If-None-Match", etag)]) } })
            try await Task.sleep(for: .milliseconds(300))
        }
        let inFlight = await Poll.until(within: .seconds(5)) { front.backends.allSatisfy { $0.waitingLongPolls() == 1 } }
        #expect(
            inFlight,
            "expected one waiting long-poll on each backend: \(front.backends.map { ($0.name, $0.waitingLongPolls()) })\n\(front.accessLog())"
        )

        // The running attempt's log is copied to the store with the victim's renewals: it
        // outlives the victim (checked after the rescue below).
        try await front.poll("the victim's running log to be copied to the store") {
            try db.execute(
                "SELECT count(*) FROM task_logs WHERE job_id = $1 AND task = 'work' AND attempt = 1 AND position('started on' in convert_from(content, 'UTF8')) > 0",
                [.int64(gated)]
            ).first?.int64(0) == 1
        }

        // The victim dies like a machine would: sluice SIGKILLed, then its supervisors and tasks.
        let connectFailuresBefore = front.lighttpdLog().components(separatedBy: "establishing connection failed").count - 1
        victim.process.terminate(signal: SIGKILL)
        victim.killItsTasks()
        let died = ContinuousClock.now

        // Requests right after the death, until the rescue has happened (> lease): every one must
        // succeed, lighttpd sending those that pick the dead backend on to the survivor.
        // The loop runs on a thread of its own (Poll.repeatedlyOnThread says why).
        struct AfterDeath: Sendable {
            var statuses: [String: Int] = [:]
            var failures: [String] = []
            var triggered: [Int64] = []
            var slowest = Duration.zero
            var sent = 0
            var rescuedAfter: Duration?
        }
        let outcome = await Poll.repeatedlyOnThread(until: died + .seconds(lease + 3), startingWith: AfterDeath()) { result in
            let started = ContinuousClock.now
            let what: String
            do {
                let response: HTTPClient.Response
                switch result.sent % 3 {
                case 0:
                    what = "GET /healthz"
                    response = try client.send("GET", "/sluice/healthz")
                    if response.status == 200 && Self.hostID(response) != survivor.name {
                        result.failures.append("/healthz answered by \(Self.hostID(response) ?? "?")")
                    }
                case 1:
                    what = "GET job"
                    response = try client.send("GET", api, as: "alice")
                default:
                    what = "POST trigger"
                    response = try client.postJSON("/sluice/api/v1/pipelines/fan/jobs", #"{"params":{}}"#, as: "alice")
                    if response.status == 202 { result.triggered.append(Int64(try JobDocument.decode(response.body).id)) }
                }
                result.slowest = max(result.slowest, ContinuousClock.now - started)
                result.statuses["\(what) \(response.status)", default: 0] += 1
                if !(200...299).contains(response.status) { result.failures.append("\(what): \(response)") }
            } catch {
                result.failures.append("request \(result.sent): \(error)")
            }
            result.sent += 1
            if result.rescuedAfter == nil,
                front.runs().contains(where: { $0.job == gated && $0.task == "work" && $0.attempt == 2 && $0.host == survivor.name })
            {
                result.rescuedAfter = ContinuousClock.now - died
            }
        }
        let (statuses, failures, afterDeath, slowest, sent) = (
            outcome.statuses, outcome.failures, outcome.triggered, outcome.slowest, outcome.sent
        )
        let connectFailures =
            front.lighttpdLog().components(separatedBy: "establishing connection failed").count - 1 - connectFailuresBefore
        print(
            "MultiBackendTests: after the kill, \(sent) requests in \(lease + 3) s: \(statuses.sorted { $0.key < $1.key }); "
                + "\(failures.count) failed; slowest \(slowest); lighttpd logged \(connectFailures) refused connections to \(victim.name)"
        )
        #expect(failures.isEmpty, "requests failed after \(victim.name) died:\n\(failures.joined(separator: "\n"))\n\(front.logs())")
        // lighttpd retried the dead backend after each disable-time (1 s), never keeping it for good.
        #expect(connectFailures >= 1, "lighttpd logged \(connectFailures) failed connections to \(victim.name)")
        // The per-backend /healthz of the dead one: lighttpd's own 503.
        let deadHealth = try client.send("GET", "/sluice/healthz", headers: [("X-Sluice-Backend", victim.name)])
        #expect(deadHealth.status == 503 && deadHealth.header("X-Request-Id") == nil, "\(deadHealth)")

        // The long-polls: the one on the dead backend failed (it had been sent: no retry); the
        // other ended when the rescue changed the job.
        var pollResults: [String] = []
        for poll in polls {
            let (result, took) = try await poll.value(timeout: .seconds(30))
            switch result {
            case .success(let response): pollResults.append("HTTP \(response.status)")
            case .failure(let error): pollResults.append("error \(error)")
            }
            print("MultiBackendTests: long-poll \(pollResults.last!) after \(took)")
        }
        print("MultiBackendTests: the two long-polls open at the kill ended with \(pollResults)")
        #expect(pollResults.filter { $0 == "HTTP 200" }.count == 1, "\(pollResults)")
        // lighttpd 1.4.69 answers 500 for a request sent to a backend that closed without answering.
        #expect(pollResults.filter { $0 == "HTTP 500" }.count == 1, "the long-poll on \(victim.name) must fail: \(pollResults)")

        // The dead backend's job is rescued by the survivor after the lease: attempt 2 of work.
        try await front.poll("\(survivor.name) to run work of job \(gated) as attempt 2", timeout: .seconds(lease + 10)) {
            front.runs().contains { $0.job == gated && $0.task == "work" && $0.attempt == 2 && $0.host == survivor.name }
        }
        print(
            "MultiBackendTests: \(survivor.name) started attempt 2 \(outcome.rescuedAfter ?? ContinuousClock.now - died) after \(victim.name) died (lease \(lease) s)"
        )
        // Attempt 1's log, as far as the victim copied it, from the survivor.
        let firstLog = try client.send("GET", "/sluice/api/v1/jobs/\(gated)/tasks/work/log?attempt=1", as: "alice")
        #expect(firstLog.status == 200 && firstLog.text.contains("started on \(victim.name)"), "\(firstLog)")
        front.openGate(job: gated)
        let job = try await front.waitForJob(gated) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)\n\(front.logs())")
        let runs = front.runs().filter { $0.job == gated }.map(\.description)
        #expect(
            runs == ["\(gated) work 1 \(victim.name)", "\(gated) work 2 \(survivor.name)", "\(gated) after 1 \(survivor.name)"],
            "\(runs)")
        try await front.poll("the jobs triggered after the kill to succeed", timeout: .seconds(20)) {
            try Self.states(of: afterDeath, in: db) == ["succeeded": afterDeath.count]
        }
        #expect(!afterDeath.isEmpty)
    }

    @Test(
        "least-connection (the snippet's choice): idle, every request goes to the first backend; while it holds a long-poll, the next goes to the second"
    )
    func leastConnection() async throws {
        let front = try await Front.start(backends: ["b1", "b2"], balance: "least-connection", leaseSeconds: 5)
        defer { front.shutdown() }
        let client = front.client
        var answeredBy: [String: Int] = [:]
        for _ in 0..<10 {
            answeredBy[Self.hostID(try client.send("GET", "/sluice/healthz")) ?? "?", default: 0] += 1
        }
        print("MultiBackendTests.leastConnection: 10 sequential /healthz answered by \(answeredBy.sorted { $0.key < $1.key })")
        #expect(answeredBy == ["b1": 10], "\(answeredBy)")

        let id = try front.trigger("gated")
        let api = "/sluice/api/v1/jobs/\(id)"
        // Once its task runs the job stays as it is until the gate opens: the long-poll waits.
        _ = try await front.waitForJob(id) { $0.task("work")?.state == "running" }
        let etag = try #require(try client.send("GET", api, as: "alice").header("ETag"))
        let poll = OnThread { try? client.send("GET", api + "?wait=3", as: "alice", headers: [("If-None-Match", etag)]) }
        #expect(await Poll.until(within: .seconds(5)) { front.backends[0].waitingLongPolls() == 1 })
        let during = try client.send("GET", "/sluice/healthz")
        #expect(Self.hostID(during) == "b2", "\(during)")
        #expect(try await poll.value(timeout: .seconds(10)).0?.status == 304)
        front.openGate(job: id)
        _ = try await front.waitForJob(id) { $0.isFinished }
    }
}

// MARK: - Helpers

extension MultiBackendTests {
    /// A blocking call on a thread of its own, with how long it took.
    final class OnThread<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var result: (T, Duration)?

        init(_ body: @escaping @Sendable () -> T) {
            Thread {
                let started = ContinuousClock.now
                let value = body()
                let took = ContinuousClock.now - started
                self.lock.withLock { self.result = (value, took) }
            }.start()
        }

        /// The result and the time it took, once there.
        func value(timeout: Duration) async throws -> (T, Duration) {
            guard let result = await Poll.value(within: timeout, every: .milliseconds(20), { self.lock.withLock { self.result } }) else {
                throw HarnessError("no result within \(timeout)")
            }
            return result
        }
    }

    /// The host id in a `/healthz` answer.
    static func hostID(_ response: HTTPClient.Response) -> String? {
        ((try? response.jsonObject())?["host"] as? [String: Any])?["id"] as? String
    }

    /// How many of `jobs` are in each state, from the store.
    static func states(of jobs: [Int64], in db: PostgresConnection) throws -> [String: Int] {
        guard !jobs.isEmpty else { return [:] }
        let list = jobs.map(String.init).joined(separator: ",")
        let rows = try db.execute("SELECT state, count(*) FROM jobs WHERE id IN (\(list)) GROUP BY 1")
        var counts: [String: Int] = [:]
        for row in rows { counts[try row.string(0) ?? "?"] = Int(try row.int64(1) ?? -1) }
        return counts
    }

    /// One `sluice serve --socket` backend the test started.
    final class Backend: @unchecked Sendable {
        let name: String
        let directory: String
        let socket: String
        let process: ChildProcess
        var logPath: String { self.directory + "/sluice.log" }

        /// Starts `sluice serve` in `directory`; with a `launcher` (e.g. `ip netns exec NS`), the
        /// launcher runs it (and must exec it, so that the process is sluice itself).
        init(name: String, directory: String, binary: String, launcher: [String] = []) throws {
            self.name = name
            self.directory = directory
            self.socket = directory + "/sluice.sock"
            let command = launcher + [binary, "serve", "--config", directory + "/sluice.json5", "--socket", self.socket]
            self.process = try ChildProcess(
                path: command[0], arguments: Array(command.dropFirst()),
                directory: directory, environment: ["MH_HOST": name, "SLUICE_LOG_LEVEL": "info"],
                stdout: .file(directory + "/sluice.log", append: true), stderr: .sameAsStdout)
        }

        /// Starts one backend per name, each in `directory/NAME` with the configuration of
        /// `MultiHostTests.config` (host id NAME, the shared directory `directory`), and waits
        /// until each listens on its socket. `connections` and `launchers` give single backends
        /// another connection string or a launcher (see `init`).
        static func startAll(
            _ names: [String], in directory: TemporaryDirectory, connection: String, leaseSeconds: Int,
            connections: [String: String] = [:], launchers: [String: [String]] = [:]
        ) throws -> [Backend] {
            let binary = try LighttpdHarness.findSluiceBinary()
            var started: [Backend] = []
            do {
                for name in names {
                    let dir = directory.file(name)
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    try MultiHostTests.config(
                        directory: dir, connection: connections[name] ?? connection, host: name, leaseSeconds: leaseSeconds,
                        shared: directory.path
                    ).write(toFile: dir + "/sluice.json5", atomically: true, encoding: .utf8)
                    try ((TestPostgres.password ?? "") + "\n").write(toFile: dir + "/pgpw", atomically: true, encoding: .utf8)
                    let backend = try Backend(name: name, directory: dir, binary: binary, launcher: launchers[name] ?? [])
                    started.append(backend)
                    try backend.waitUntilListening()
                }
            } catch {
                for backend in started { backend.process.terminate(signal: SIGKILL) }
                throw error
            }
            return started
        }

        /// Waits until the process listens on its socket (or fails if it exits first).
        func waitUntilListening() throws {
            let listening = Poll.blockingUntil(within: .seconds(15), every: .milliseconds(20)) {
                var info = stat()
                return !self.process.isRunning || (stat(self.socket, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
            }
            guard listening, self.process.isRunning else {
                throw HarnessError("sluice \(self.name) did not listen (\(self.process.terminationDescription))\n\(self.log())")
            }
        }

        func log() -> String { ChildProcess.read(self.logPath) }

        /// Lines of this backend's log with the message `message`.
        func logLines(saying message: String) -> [Substring] {
            self.log().split(separator: "\n").filter { $0.contains("\"msg\":\"\(message)") }
        }

        /// Long-polls waiting in this backend now: connections lighttpd holds open to its socket
        /// (`ss` lists the accepted unix connections under the socket's path).
        func waitingLongPolls() -> Int {
            let listed = (try? ChildProcess.run("/usr/bin/env", ["ss", "-xH", "state", "connected", "src", self.socket]))?.stdout ?? ""
            return listed.split(separator: "\n").count
        }

        /// Processes whose `SLUICE_RUN_KEY` names this backend (its supervisors and tasks).
        func processesOfItsTasks() -> [pid_t] {
            let prefix = Array(("SLUICE_RUN_KEY=" + ProcessIdentity.instancePrefix(logDirectory: self.directory + "/data/logs")).utf8)
            return ProcessTable.allProcessIDs().filter { pid in
                guard pid != getpid(), !ProcessTable.isGone(pid),
                    let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
                else { return false }
                return environ.split(separator: 0).contains { $0.starts(with: prefix) }
            }
        }

        /// Stops, then kills, every supervisor and task of this backend (the gated task forks a
        /// `sleep` every 50 ms, so stop until no new one appears).
        func killItsTasks() {
            var victims: Set<pid_t> = []
            while true {
                let found = Set(self.processesOfItsTasks())
                if found.isSubset(of: victims) { break }
                for pid in found.subtracting(victims) { kill(pid, SIGSTOP) }
                victims.formUnion(found)
            }
            for pid in victims { kill(pid, SIGKILL) }
            Poll.blockingUntil(within: .seconds(5)) { victims.allSatisfy(ProcessTable.isGone) }
        }
    }

    /// The backends, lighttpd in front of them, the schema and the shared directory.
    final class Front: BackendGroupFront, @unchecked Sendable {
        let connection: String
        private let drop: () -> Void
        let directory: TemporaryDirectory
        var backends: [Backend] = []
        private var lighttpd: ChildProcess?
        private(set) var port: UInt16 = 0
        var client: HTTPClient { HTTPClient(port: self.port, passwords: LighttpdHarness.passwords) }

        private init(connection: String, drop: @escaping () -> Void, directory: TemporaryDirectory) {
            self.connection = connection
            self.drop = drop
            self.directory = directory
        }

        static func start(
            backends names: [String], balance: String, leaseSeconds: Int, connections: [String: (String) -> String] = [:],
            launchers: [String: [String]] = [:]
        ) async throws -> Front {
            let (connection, drop) = try PostgresServeTests.makeSchema()
            let directory: TemporaryDirectory
            do {
                directory = try TemporaryDirectory(prefix: "sluice-mb", in: "/tmp")
            } catch {
                drop()
                throw error
            }
            let front = Front(connection: connection, drop: drop, directory: directory)
            do {
                try await front.startAll(
                    names, balance: balance, leaseSeconds: leaseSeconds, connections: connections.mapValues { $0(connection) },
                    launchers: launchers)
            } catch {
                front.shutdown()
                throw error
            }
            return front
        }

        private func startAll(
            _ names: [String], balance: String, leaseSeconds: Int, connections: [String: String], launchers: [String: [String]]
        ) async throws {
            self.backends = try Backend.startAll(
                names, in: self.directory, connection: self.connection, leaseSeconds: leaseSeconds, connections: connections,
                launchers: launchers)
            try FileManager.default.createDirectory(atPath: self.directory.file("www"), withIntermediateDirectories: true)
            try LighttpdHarness.passwords.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)\n" }.joined()
                .write(toFile: self.directory.file("users.txt"), atomically: true, encoding: .utf8)
            let lighttpdPath = try LighttpdHarness.findLighttpd()
            // A free port may be taken by someone else before lighttpd binds it: try again then.
            for _ in 0..<3 {
                self.port = try Self.freePort()
                try self.lighttpdConfig(balance: balance).write(
                    toFile: self.directory.file("lighttpd.conf"), atomically: true, encoding: .utf8)
                let process = try ChildProcess(
                    path: lighttpdPath, arguments: ["-D", "-f", self.directory.file("lighttpd.conf")],
                    stdout: .file(self.directory.file("lighttpd-stderr.log"), append: true), stderr: .sameAsStdout)
                self.lighttpd = process
                let up = await Poll.until(within: .seconds(10), every: .milliseconds(50)) {
                    !process.isRunning || self.lighttpdLog().contains("server started")
                }
                if up && process.isRunning { break }
                process.terminate(signal: SIGKILL)
                self.lighttpd = nil
                if !self.logs().contains("can't bind") && !self.logs().contains("Address already in use") { break }
            }
            guard self.lighttpd != nil else { throw HarnessError("lighttpd did not start\n\(self.logs())") }
            // Every backend registered (holds its lease) before the test starts.
            for backend in self.backends {
                try await self.poll("\(backend.name) to answer /healthz with its lease held") {
                    let response = try? self.client.send("GET", "/sluice/healthz", headers: [("X-Sluice-Backend", backend.name)])
                    let host = (try? response?.jsonObject())?["host"] as? [String: Any]
                    return host?["id"] as? String == backend.name && host?["lease"] as? String == "held"
                }
            }
        }

        /// The fastcgi part as in lighttpd/sluice-hosts.conf (unix sockets instead of host/port),
        /// with basic auth as in LighttpdHarness. disable-time 1 s so the test sees lighttpd try
        /// the dead backend again.
        func lighttpdConfig(balance: String) -> String {
            func entry(_ backend: Backend) -> String {
                """
                \(LighttpdHarness.lighttpdString(backend.name)) => (
                    "socket"          => \(LighttpdHarness.lighttpdString(backend.socket)),
                    "check-local"     => "disable",
                    "connect-timeout" => 3,
                    "disable-time"    => 1,
                    "read-timeout"    => 75,
                    "write-timeout"   => 30,
                  )
                """
            }
            let perBackend = self.backends.map { backend in
                """
                  $REQUEST_HEADER["X-Sluice-Backend"] == \(LighttpdHarness.lighttpdString(backend.name)) {
                    fastcgi.server = ( "/sluice" => ( \(entry(backend)) ))
                  }
                """
            }
            let dir = self.directory.path
            return """
                # Written by MultiBackendTests.
                server.modules = ( "mod_auth", "mod_authn_file", "mod_fastcgi", "mod_accesslog" )
                server.bind = "127.0.0.1"
                server.port = \(self.port)
                server.document-root = "\(dir)/www"
                server.errorlog = "\(dir)/lighttpd-error.log"
                accesslog.filename = "\(dir)/access.log"
                accesslog.format = "%h %u %t \\"%r\\" %>s %b %D"

                auth.backend = "plain"
                auth.backend.plain.userfile = "\(dir)/users.txt"
                $HTTP["url"] != "/sluice/healthz" {
                  auth.require = ( "/sluice" => ( "method" => "basic", "realm" => "sluice", "require" => "valid-user" ) )
                }

                fastcgi.balance = \(LighttpdHarness.lighttpdString(balance))
                fastcgi.server = ( "/sluice" => (
                  \(self.backends.map(entry).joined(separator: ",\n  "))
                ))
                $HTTP["url"] == "/sluice/healthz" {
                \(perBackend.joined(separator: "\n"))
                }

                """
        }

        func accessLog() -> String { ChildProcess.read(self.directory.file("access.log")) }

        func lighttpdLog() -> String { ChildProcess.read(self.directory.file("lighttpd-error.log")) }

        func logs() -> String {
            "--- lighttpd\n\(self.lighttpdLog())\n\(ChildProcess.read(self.directory.file("lighttpd-stderr.log")))\n"
                + self.backends.map { "--- \($0.name)\n\($0.log().suffix(6000))" }.joined(separator: "\n")
        }

        func shutdown() {
            self.lighttpd?.terminate(signal: SIGTERM, timeout: .seconds(10))
            for backend in self.backends {
                backend.process.terminate(signal: SIGTERM, timeout: .seconds(10))
                backend.killItsTasks()
            }
            self.drop()
            if ProcessInfo.processInfo.environment["SLUICE_KEEP_TMP"] == nil { self.directory.remove() }
        }

        static func freePort() throws -> UInt16 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket() failed") }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard ok else { throw HarnessError("cannot bind 127.0.0.1:0") }
            return UInt16(bigEndian: address.sin_port)
        }
    }
}

/// A front server before several `sluice serve` backends sharing one temporary directory (the
/// `runs` file and the gates of `MultiHostTests.config`): what the tests do through it.
protocol BackendGroupFront: AnyObject {
    var client: HTTPClient { get }
    var directory: TemporaryDirectory { get }
    func logs() -> String
}

extension BackendGroupFront {
    /// Triggers `pipeline` as alice through the front; the job's id.
    func trigger(_ pipeline: String) throws -> Int64 {
        let response = try self.client.postJSON("/sluice/api/v1/pipelines/\(pipeline)/jobs", #"{"params":{}}"#, as: "alice")
        guard response.status == 202 else { throw HarnessError("trigger \(pipeline): \(response)\n\(self.logs())") }
        return Int64(try JobDocument.decode(response.body).id)
    }

    /// Polls the job as alice until `condition` holds (20 s at most).
    func waitForJob(_ id: Int64, until condition: (JobDocument) -> Bool) async throws -> JobDocument {
        let (job, last) = try await self.client.pollJob(
            at: "/sluice/api/v1/jobs/\(id)", as: "alice", timeout: .seconds(20), until: condition)
        guard let job else { throw HarnessError("job \(id): \(last)\n\(self.logs())") }
        return job
    }

    /// The shared runs file (see MultiHostTests).
    func runs() -> [MultiHostTests.Run] {
        ChildProcess.read(self.directory.file("runs")).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 4, let job = Int64(fields[0]), let attempt = Int(fields[2]) else { return nil }
            return MultiHostTests.Run(job: job, task: fields[1], attempt: attempt, host: fields[3])
        }
    }

    /// Lets job `job`'s gated task finish.
    func openGate(job: Int64) {
        _ = FileManager.default.createFile(atPath: self.directory.file("gate-\(job)"), contents: nil)
    }

    /// Waits for `condition`, failing with the logs after `timeout`.
    func poll(_ what: String, timeout: Duration = .seconds(15), until condition: () throws -> Bool) async throws {
        guard try await Poll.until(within: timeout, every: .milliseconds(50), condition) else {
            throw HarnessError("timed out after \(timeout) waiting for \(what)\n\(self.logs())")
        }
    }
}
