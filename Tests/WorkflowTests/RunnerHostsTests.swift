import Foundation
import JobStore
import Postgres
import PostgresStore
import Supervisor
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Runners as hosts of one shared PostgreSQL store (real store, real supervisors and processes):
/// claims split the work, a lost lease costs the host what it runs, and a fenced commit writes
/// nothing. The multi-process scenarios (three `serve`s, kill -9, SIGSTOP) are in
/// IntegrationTests/MultiHostTests.
@Suite(
    "Runners sharing a PostgreSQL store", .serialized, .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)))
struct RunnerHostsTests {
    /// A fresh schema, a store on it, and a directory for logs and marker files.
    final class Fixture {
        let dir: TemporaryDirectory
        let connection: String
        let store: PostgresJobStore
        var runners: [Runner] = []

        init() throws {
            let base = try TestPostgres.requireURL()
            let schema = TestPostgres.uniqueName("sluice_hosts_test")
            try PostgresConnection(base, password: TestPostgres.password).execute("CREATE SCHEMA " + PostgresIdentifier.quoted(schema))
            self.connection = TestPostgres.connection(base, searchPath: schema)
            self.store = try PostgresJobStore(connection: self.connection, password: TestPostgres.password, poolSize: 4)
            self.dir = try TemporaryDirectory()
        }

        /// A runner as host `id`, with its own log directory, started.
        func runner(_ id: String, lease: Double = 1, parallelism: Int = 2) -> Runner {
            var configuration = Runner.Configuration(parallelism: parallelism, logDirectory: self.dir.file("logs-\(id)"), gracePeriod: 1)
            configuration.stopTasksOnExit = false
            configuration.hosting = .init(id: id, leaseSeconds: lease)
            let runner = Runner(store: self.store, configuration: configuration)
            runner.start()
            self.runners.append(runner)
            return runner
        }

        /// A connection behind the store's back.
        func raw() throws -> PostgresConnection { try PostgresConnection(self.connection, password: TestPostgres.password) }

        func submit(_ tasks: [TaskRecord]) throws -> JobRecord {
            try self.store.createJob(
                NewJob(
                    pipeline: "p", triggeredBy: "test", identitySource: "test", params: [:], workingDirectory: self.dir.path, tasks: tasks))
        }

        /// Waits (10 s at most) until job `id` is terminal.
        func finished(_ id: Int64) throws -> JobRecord? {
            var found: JobRecord? = nil
            _ = Poll.blockingUntil(within: .seconds(15)) {
                found = try? self.store.job(id: id)
                return found?.state.isTerminal == true
            }
            return found
        }

        func tearDown() {
            for runner in self.runners { runner.stop() }
            // Whatever a test left running (supervisors and tasks carrying this directory's run keys).
            for pid in ProcessTable.livingProcessIDs(under: self.dir.path) { kill(pid, SIGKILL) }
        }
    }

    static func sh(_ script: String, _ args: String...) -> [String] { ["/bin/sh", "-c", script, "sh"] + args }

    /// A task that appends "job task attempt" to `file`, waits until `gate` exists (if given), then exits 0.
    static func recording(_ name: String, to file: String, gate: String? = nil, needs: [String] = []) -> TaskRecord {
        let wait = gate.map { "while [ ! -e \"\($0)\" ]; do sleep 0.05; done; " } ?? ""
        return TaskRecord(
            name: name, needs: needs, argv: sh("echo $SLUICE_JOB_ID $SLUICE_TASK $SLUICE_ATTEMPT >> \"$1\"; \(wait)exit 0", file))
    }

    /// A task `t` that appends "job task attempt pid" to `runs`, waits until `gate` exists, and
    /// is retried up to `retries` times.
    static func gated(_ runs: String, _ gate: String, retries: Int) -> TaskRecord {
        TaskRecord(
            name: "t", needs: [],
            argv: Self.sh(
                "echo $SLUICE_JOB_ID $SLUICE_TASK $SLUICE_ATTEMPT $$ >> \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.05; done", runs, gate),
            options: TaskOptions(retry: RetryPolicy(retries: retries, initialDelay: 0.1)))
    }

    /// The pid the first line of `runs` names (the task's shell).
    static func firstPID(_ runs: String) -> Int32? {
        Self.lines(runs).first.flatMap { $0.split(separator: " ").last }.flatMap { Int32($0) }
    }

    static func lines(_ file: String) -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("Two runners on one store split the jobs: every task runs exactly once, and both hosts register")
    func splitWork() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let runs = f.dir.file("runs")
        var ids: [Int64] = []
        for _ in 0..<30 {
            ids.append(try f.submit([Self.recording("a", to: runs), Self.recording("b", to: runs, needs: ["a"])]).id)
        }
        _ = f.runner("h1")
        _ = f.runner("h2")
        for id in ids {
            let job = try #require(try f.finished(id))
            #expect(job.state == .succeeded, "\(job)")
            #expect(job.tasks.map(\.attempt) == [1, 1])
        }
        let lines = Self.lines(runs)
        #expect(lines.count == 60, "\(lines)")
        #expect(Set(lines).count == 60, "a task ran twice: \(lines)")
        let hosts = try f.store.hosts()
        #expect(Set(hosts.map(\.id)) == ["h1", "h2"])
        #expect(hosts.allSatisfy { $0.live })
        #expect(f.runners.allSatisfy { $0.host?.epoch != nil })
    }

    @Test("A runner whose lease is taken (a newer epoch of its host id) kills its running task, then takes the job back and retries it")
    func leaseLost() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let runs = f.dir.file("runs")
        let gate = f.dir.file("gate")
        let job = try f.submit([
            Self.gated(runs, gate, retries: 2)
        ])
        let runner = f.runner("h1", lease: 1)
        #expect(Poll.blockingUntil(within: .seconds(10)) { Self.lines(runs).count == 1 })
        let firstEpoch = try #require(runner.host?.epoch)
        let firstPID = try #require(Self.firstPID(runs))
        // Another process registers the same host id: the runner's lease is gone.
        let usurper = try f.store.register(host: "h1", leaseSeconds: 30)
        #expect(usurper.epoch > firstEpoch)
        #expect(
            Poll.blockingUntil(within: .seconds(5)) { kill(firstPID, 0) != 0 },
            "the runner must kill the task it ran under the lost lease")
        // It registers again (a newer epoch still), takes its job back and retries the attempt
        // whose outcome it could not know.
        #expect(Poll.blockingUntil(within: .seconds(10)) { Self.lines(runs).count == 2 })
        #expect((runner.host?.epoch ?? 0) > usurper.epoch)
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        let done = try #require(try f.finished(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("t")?.attempt == 2)
    }

    @Test("A commit for a job another host took over writes nothing, and the runner stops what it ran of it")
    func fencedCommit() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let runs = f.dir.file("runs")
        let gate = f.dir.file("gate")
        let job = try f.submit([
            TaskRecord(
                name: "t", needs: [],
                argv: Self.sh(
                    "echo $SLUICE_JOB_ID $SLUICE_TASK $SLUICE_ATTEMPT >> \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.05; done; sleep 30 &",
                    runs,
                    gate))
        ])
        let runner = f.runner("h1", lease: 30)
        #expect(Poll.blockingUntil(within: .seconds(10)) { Self.lines(runs).count == 1 })
        #expect(Poll.blockingUntil(within: .seconds(5)) { (try? f.store.job(id: job.id))?.task("t")?.pid != nil })
        let before = try #require(try f.store.job(id: job.id))
        // As if h1's lease had expired and h2 had rescued and claimed the job.
        let other = try f.store.register(host: "h2", leaseSeconds: 30)
        try f.raw().execute(
            "UPDATE jobs SET owner = $1, owner_epoch = $2 WHERE id = $3", [.text("h2"), .int64(other.epoch), .int64(job.id)])
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        // The attempt ends; h1's commit of its outcome is refused.
        #expect(Poll.blockingUntil(within: .seconds(10)) { runner.activity.activeJobs == 0 && runner.activity.runningTasks == 0 })
        let after = try #require(try f.store.job(id: job.id))
        #expect(after.state == before.state)
        #expect(after.task("t")?.state == .running, "h1 wrote over h2's job: \(after)")
        #expect(after.task("t")?.attempt == 1)
        // The background `sleep 30` the task left in its group is killed with the job.
        #expect(
            Poll.blockingUntil(within: .seconds(5)) { ProcessTable.livingProcessIDs(under: f.dir.path).isEmpty },
            "processes of the lost job are left: \(ProcessTable.livingProcessIDs(under: f.dir.path))")
    }

    @Test(
        "A host that stops renewing loses its jobs to a live host, which retries the running attempt; when the host starts again it kills its old attempt"
    )
    func rescue() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let runs = f.dir.file("runs")
        let gate = f.dir.file("gate")
        let job = try f.submit([
            Self.gated(runs, gate, retries: 1)
        ])
        let first = f.runner("h1", lease: 1)
        #expect(Poll.blockingUntil(within: .seconds(10)) { Self.lines(runs).count == 1 })
        let oldPID = try #require(Self.firstPID(runs))
        first.stop()  // leaves the task to its supervisor, and the lease to expire
        _ = f.runner("h2", lease: 1)
        #expect(Poll.blockingUntil(within: .seconds(10)) { Self.lines(runs).count == 2 }, "h2 never retried h1's attempt")
        #expect(kill(oldPID, 0) == 0, "h1's attempt runs on under its supervisor until h1 comes back")
        // h1 starts again (a later epoch): the job is h2's now, so h1 kills its old attempt.
        _ = f.runner("h1", lease: 1)
        #expect(Poll.blockingUntil(within: .seconds(5)) { kill(oldPID, 0) != 0 }, "h1 left its rescued attempt running")
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        let done = try #require(try f.finished(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("t")?.attempt == 2)
        #expect(Self.lines(runs).map { $0.split(separator: " ").prefix(3).joined(separator: " ") } == ["\(job.id) t 1", "\(job.id) t 2"])
    }
}
