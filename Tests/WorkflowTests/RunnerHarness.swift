import Foundation
import JobStore
import Locking
import SQLiteStore
import Supervisor
import Synchronization
import TestSupport
import Testing
import Workflow

/// A runner over a real `SQLiteJobStore` in a temporary directory.
final class RunnerHarness {
    let dir: TemporaryDirectory
    let store: SQLiteJobStore
    let runner: Runner
    var configuration: Runner.Configuration
    /// Seconds added to the wall clock for timestamps the store records.
    let clockOffset = ClockOffset()
    private var started = false
    private var stopped = false

    init(
        parallelism: Int = 4, gracePeriod: Double = 1, limits: Runner.Limits = Runner.Limits(),
        environment: [String: String] = Runner.defaultEnvironment,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, stopTasksOnExit: Bool = true
    ) throws {
        self.dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: self.dir.file("work"), withIntermediateDirectories: true)
        let offset = self.clockOffset
        self.store = try SQLiteJobStore(path: self.dir.file("jobs.sqlite"), now: { Date().addingTimeInterval(offset.seconds) })
        self.configuration = Runner.Configuration(
            parallelism: parallelism, logDirectory: self.dir.file("logs"), environment: environment, gracePeriod: gracePeriod,
            random: random)
        // Most tests want a stop to leave nothing behind; the tests of re-adoption turn it off.
        self.configuration.stopTasksOnExit = stopTasksOnExit
        self.runner = Runner(store: self.store, configuration: self.configuration, limits: limits)
    }

    var workingDirectory: String { self.dir.file("work") }

    func start() {
        self.started = true
        self.runner.start()
    }

    func stop() {
        guard self.started, !self.stopped else { return }
        self.stopped = true
        self.runner.stop()
    }

    /// Stops the runner if it runs and removes the directory.
    func tearDown() {
        self.stop()
        self.dir.remove()
    }

    /// The process group of the running attempt `attempt` of `task`: not the pid the store holds
    /// (that is its supervisor's) but the group of the task process carrying its run key.
    func taskGroup(_ job: JobRecord, _ task: String, attempt: Int = 1, within timeout: Duration = .seconds(10)) throws -> Int32 {
        let key = ProcessIdentity.runKey(logDirectory: self.configuration.logDirectory, jobID: job.id, task: task, attempt: attempt)
        var group: Int32? = nil
        _ = Poll.blockingUntil(within: timeout) {
            group = ProcessIdentity.carriers(of: [key])[key]?.first { !$0.isSessionLeader }?.processGroup
            return group != nil
        }
        return try #require(group, "no task process carries \(key)")
    }

    /// Creates a job of `tasks` (name, needs, argv); does not wake the runner.
    @discardableResult
    func createJob(_ tasks: [(String, [String], [String])], params: [String: String] = [:], pipeline: String = "test") throws -> JobRecord {
        try self.store.createJob(
            NewJob(
                pipeline: pipeline, triggeredBy: "tester", identitySource: "test", params: params,
                workingDirectory: self.workingDirectory,
                tasks: tasks.map { TaskRecord(name: $0.0, needs: $0.1, argv: $0.2) }))
    }

    /// Submits a job as a trigger does: through the store's group commit, which hands the job
    /// to the runner (`JobStore.observeCreatedJobs`), then `Runner.wake(created:)`.
    @discardableResult
    func submit(_ tasks: [(String, [String], [String])], params: [String: String] = [:]) throws -> JobRecord {
        let submission = try self.store.submit(
            NewJob(
                pipeline: "test", triggeredBy: "tester", identitySource: "test", params: params, workingDirectory: self.workingDirectory,
                tasks: tasks.map { TaskRecord(name: $0.0, needs: $0.1, argv: $0.2) }),
            rules: SubmissionRules(), audit: nil)
        guard case .created(let job) = submission else { throw JobStoreError("expected a new job, got \(submission)") }
        self.runner.wake(created: job)
        return job
    }

    /// The job once `condition` holds, or nil after `timeout`.
    func job(_ id: Int64, within timeout: Duration = .seconds(20), where condition: (JobRecord) -> Bool) throws -> JobRecord? {
        var latest: JobRecord? = nil
        let held = try Poll.blockingUntil(within: timeout) {
            latest = try self.store.job(id: id)
            return latest.map(condition) ?? false
        }
        return held ? latest : nil
    }

    /// The job once it is terminal, or nil after `timeout`.
    func finishedJob(_ id: Int64, within timeout: Duration = .seconds(20)) throws -> JobRecord? {
        try self.job(id, within: timeout) { $0.state.isTerminal }
    }

    func log(_ job: JobRecord, _ task: String, attempt: Int = 1) -> String {
        let path = Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: job.id, task: task, attempt: attempt)
        return FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// An adjustable offset for the store's clock.
final class ClockOffset: Sendable {
    private let value = Locked<TimeInterval>(0)

    var seconds: TimeInterval { self.value.withLock { $0 } }

    func set(_ seconds: TimeInterval) { self.value.withLock { $0 = seconds } }
}

extension JobRecord {
    func task(_ name: String) -> TaskRecord? { self.tasks.first { $0.name == name } }
}

/// `/bin/sh -c script` with positional arguments.
func sh(_ script: String, _ arguments: String...) -> [String] { ["/bin/sh", "-c", script, "sh"] + arguments }
