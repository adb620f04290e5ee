import ByteStrings
public import Foundation
public import JobStore
import Locking
import Supervisor

/// Executes jobs: one scheduler thread owns every running job, claims queued jobs from the store,
/// runs ready tasks up to the parallelism limit, and commits each state transition to the store
/// before acting on it.
///
/// The web side meets the runner only at the store plus `wake()`, a non-blocking signal; the
/// runner never polls on a timer. Each task process has a waiter thread that reports its exit.
/// Transitions found in one scheduling pass (tasks finished, `noop` tasks completed, tasks
/// claimed) are committed together in one transaction, so durability costs one fsync per pass,
/// not one per transition.
///
/// ```swift
/// let runner = Runner(store: store, configuration: .init(logDirectory: "/var/lib/sluice/logs"))
/// runner.start()
/// _ = try store.createJob(job); runner.wake()
/// runner.stop()   // on shutdown: stops running tasks, records them as interrupted
/// ```
public final class Runner: Sendable {
    /// Runner settings fixed at start.
    public struct Configuration: Sendable {
        /// Most task processes running at once, across all jobs (`noop` tasks take no slot).
        public var parallelism: Int
        /// Where task logs go: `<logDirectory>/<job id>/<task>.<attempt>.log`.
        public var logDirectory: String
        /// The environment every task starts with (an allow-list, not Sluice's own environment).
        public var environment: [String: String]
        /// Seconds between SIGTERM and SIGKILL when a task is cancelled, times out or Sluice stops.
        public var gracePeriod: Double
        /// How much of each attempt's output its log keeps (head and tail).
        public var logLimits: LogLimits
        /// A random number in `0..<1` for retry jitter (injectable for tests).
        public var random: @Sendable () -> Double
        /// What `stop()` does with running tasks: false (the default) leaves them running under
        /// their supervisors, to be re-adopted by the next start; true stops each one (SIGTERM,
        /// grace period, SIGKILL) and records it as interrupted, as Sluice did before supervisors.
        public var stopTasksOnExit: Bool = false
        /// The `sluice-supervisor` executable every attempt runs under.
        public var supervisorPath: String = SupervisorLaunch.defaultExecutable()
        /// Called on the runner thread after a job's changes were committed (keep it short).
        public var onJobChange: (@Sendable (_ jobID: Int64, _ state: JobState) -> Void)?
        /// This host's id and lease when the store is shared by several hosts (a
        /// `SharedJobStore`); nil, or a store that is not shared: the only runner on its store.
        public var hosting: HostSettings? = nil
        /// Called (on the listener's thread) whenever a shared store says something changed on
        /// another host: which job is not said (keep it short).
        public var onChangeElsewhere: (@Sendable () -> Void)? = nil
        /// Called on the runner thread when an attempt ended here: its pipeline, how it ended
        /// (`succeeded`, `failed`, `cancelled`) and how long it ran, nil for an attempt re-adopted
        /// after a restart, whose start this process did not see. For metrics (keep it short).
        public var onAttemptEnded: (@Sendable (_ pipeline: String, _ outcome: String, _ seconds: Double?) -> Void)? = nil
        /// Called on the runner thread after this host committed a job's final state: its
        /// pipeline, the state, and the seconds since it was created. For metrics (keep it short).
        public var onJobFinished: (@Sendable (_ pipeline: String, _ state: JobState, _ seconds: Double) -> Void)? = nil
        /// Called on the runner thread after each commit of task changes: how long the store
        /// took, and whether it succeeded. For metrics (keep it short).
        public var onCommit: (@Sendable (_ seconds: Double, _ succeeded: Bool) -> Void)? = nil

        /// Creates settings.
        public init(
            parallelism: Int = 4, logDirectory: String, environment: [String: String] = Runner.defaultEnvironment, gracePeriod: Double = 5,
            logLimits: LogLimits = .init(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
            onJobChange: (@Sendable (_ jobID: Int64, _ state: JobState) -> Void)? = nil
        ) {
            self.parallelism = parallelism
            self.logDirectory = logDirectory
            self.environment = environment
            self.gracePeriod = gracePeriod
            self.logLimits = logLimits
            self.random = random
            self.onJobChange = onJobChange
        }
    }

    /// A host's part in a shared store (`SharedJobStore`).
    public struct HostSettings: Sendable, Equatable {
        /// The host id: the same across restarts of this host, different from every other host's.
        public var id: String
        /// How long the lease lasts without renewal; it is renewed every third of it.
        public var leaseSeconds: Double

        /// Creates settings.
        public init(id: String, leaseSeconds: Double) {
            self.id = id
            self.leaseSeconds = leaseSeconds
        }
    }

    /// This host's standing in a shared store, as `/healthz` shows it.
    public struct HostStatus: Sendable, Equatable {
        /// The host id.
        public var id: String
        /// The epoch of its current lease; nil while it holds none (registering, or lost).
        public var epoch: Int64?
        /// Until when the lease is surely valid by this host's clock (the start of the last
        /// successful renewal plus the lease length); nil while it holds none.
        public var validUntil: Date?
    }

    /// Settings that may change while running (on configuration reload).
    public struct Limits: Sendable, Hashable {
        /// Most jobs of a pipeline running at once, by pipeline; absent: unlimited.
        public var concurrency: [String: Int]
        /// Capacity of each named resource, shared by all pipelines.
        public var resources: [String: Int]

        /// Creates limits.
        public init(concurrency: [String: Int] = [:], resources: [String: Int] = [:]) {
            self.concurrency = concurrency
            self.resources = resources
        }
    }

    /// The default task environment: a fixed PATH and locale, nothing inherited.
    public static let defaultEnvironment: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
    ]

    enum Event: Sendable {
        case wake
        /// The supervisor watched under `token` has exited.
        case supervisorExited(token: UInt64)
        case stop
    }

    private let queue = EventQueue<Event>()
    private let loop: RunnerLoop
    private let shared: RunnerShared
    /// Whether this runner is a host of a shared store (then jobs are claimed, never handed over).
    private let isHost: Bool
    /// Whether the store hands each job it creates to this runner at its commit
    /// (`JobStore.observeCreatedJobs`), so `wake(created:)` need not.
    private let handedOverAtCommit: Bool
    private let finished = DispatchSemaphore(value: 0)
    private let lifecycle = Locked<Lifecycle>(.idle)

    private enum Lifecycle { case idle, started, stopped }

    /// Creates a runner; nothing happens until `start()`.
    public init(store: any JobStore, configuration: Configuration, limits: Limits = Limits()) {
        self.shared = RunnerShared(limits: limits)
        self.loop = RunnerLoop(store: store, configuration: configuration, queue: self.queue, shared: self.shared)
        self.isHost = configuration.hosting != nil && store is any SharedJobStore
        // Handed over by whichever thread commits the job's transaction, right after the
        // commit and before the submitter is answered, so before the runner's next pass can
        // find the job and read it back. Not on a shared store (another host may take the job
        // first). The closure holds the runner's shared state and queue, not the runner.
        let (shared, queue) = (self.shared, self.queue)
        self.handedOverAtCommit =
            !self.isHost
            && store.observeCreatedJobs { job in
                // Committed, not answered, and not yet told to the runner: the moment this crash
                // point stands for (App checks it too, for stores that do not report).
                FaultPoint.afterTriggerCommit.check()
                shared.handOver(job)
                queue.post(.wake)
            }
        if self.isHost, let hosting = configuration.hosting {
            // Known as a host from the start: no lease until the runner thread registers.
            self.shared.host.withLock { $0 = HostStatus(id: hosting.id, epoch: nil, validUntil: nil) }
        }
    }

    /// Starts the scheduler thread. Tasks left `running` by a previous process are killed if
    /// still alive, then retried per their policy or failed as interrupted; queued work resumes.
    public func start() {
        guard
            self.lifecycle.withLock({ state in
                guard state == .idle else { return false }
                state = .started
                return true
            })
        else { return }
        let thread = Thread { [loop, finished] in
            loop.run()
            finished.signal()
        }
        thread.name = "runner"
        thread.start()
    }

    /// Tells the runner the store has news (a new job, a cancel request). Never blocks.
    public func wake() { self.queue.post(.wake) }

    /// Wakes the runner for `job`, which a submission on this host just created, and hands it
    /// the job as the submission returned it, so that the runner need not read it back (a
    /// profile of triggers found 5 % of their CPU in that read).
    ///
    /// Why this is the stored job: `JobRecord(inserted:)` is what reading the new job gives
    /// (the stores' tests compare them), and before the runner first loads a queued job nothing
    /// else changes its row but a cancel request, which the runner reads from the job list it
    /// admits from. Only jobs that wait for nothing but admission are handed over, and only on
    /// a store of this host alone (on a shared store another host may take the job first).
    ///
    /// A store that reports its created jobs (`JobStore.observeCreatedJobs`) has handed the job
    /// over already, at its commit: then this only wakes the runner.
    public func wake(created job: JobRecord) {
        if !self.isHost, !self.handedOverAtCommit { self.shared.handOver(job) }
        self.wake()
    }

    /// How many handed-over jobs (`wake(created:)`) the runner has not taken yet (for tests).
    public var handedOver: Int { self.shared.created.withLock { $0.count } }

    /// Replaces the pipeline concurrency limits and resource capacities (on reload).
    public func update(_ limits: Limits) {
        self.shared.limits.withLock { $0 = limits }
        self.wake()
    }

    /// Runs `submit` (which commits a job) while holding the secrets table, and keeps `secrets`
    /// for the job it created, in memory only. Holding the table means the runner cannot load
    /// the new job before its secrets are in place.
    public func submitting(secrets: [String: String], _ submit: () throws -> Submission) throws -> Submission {
        if secrets.isEmpty { return try submit() }
        return try self.shared.secrets.withLock { table in
            let submission = try submit()
            if case .created(let job) = submission { table[job.id] = secrets }
            return submission
        }
    }

    /// Drops the secret values kept for the job `id`: a job that ended without running (rejected,
    /// expired, cancelled while awaiting approval) never needs them.
    public func forgetSecrets(of id: Int64) {
        self.shared.secrets.withLock { _ = $0.removeValue(forKey: id) }
    }

    /// The jobs whose secret values this process keeps (waiting to be admitted or approved).
    public var jobsWithSecrets: [Int64] { self.shared.secrets.withLock { Array($0.keys) } }

    /// Stops the runner: no new tasks start; running tasks get SIGTERM, then SIGKILL after the
    /// grace period, and are queued for a retry if their policy allows, else failed as
    /// interrupted. Returns when that is committed. Calling it again, or before `start()`, does
    /// nothing.
    public func stop() {
        let wasRunning = self.lifecycle.withLock { state in
            defer { state = .stopped }
            return state == .started
        }
        guard wasRunning else { return }
        self.queue.post(.stop)
        self.finished.wait()
    }

    /// What the runner is doing: published after every scheduling pass.
    public struct Activity: Sendable, Equatable {
        /// Jobs admitted and not finished (they count against their pipeline's concurrency).
        public var activeJobs: Int
        /// Task attempts running under their supervisors.
        public var runningTasks: Int
        /// Whether the runner is draining: admitted jobs go on, no new job is admitted.
        public var draining: Bool
        /// Whether the counts come from a pass that already saw `draining` as it is now. Until
        /// then they may predate it: a pass that read "not draining" can be admitting a job
        /// whose count is not published yet.
        public var countsSeeDraining: Bool
        /// Process slots taken (of `parallelism`): running attempts and claims about to start.
        public var slotsInUse: Int
        /// Running attempts per pipeline, ordered by name (bytes); pipelines with none are left out.
        public var runningByPipeline: [NamedCount]
        /// The amount in use of each named resource, ordered by name (bytes); unused ones are left out.
        public var resourcesInUse: [NamedCount]

        /// Creates a value (the runner publishes these; tests may build them).
        public init(
            activeJobs: Int = 0, runningTasks: Int = 0, draining: Bool = false, countsSeeDraining: Bool = true, slotsInUse: Int = 0,
            runningByPipeline: [NamedCount] = [], resourcesInUse: [NamedCount] = []
        ) {
            self.activeJobs = activeJobs
            self.runningTasks = runningTasks
            self.draining = draining
            self.countsSeeDraining = countsSeeDraining
            self.slotsInUse = slotsInUse
            self.runningByPipeline = runningByPipeline
            self.resourcesInUse = resourcesInUse
        }

        /// Draining and nothing left to finish, as counted by a pass that drained: the moment a
        /// drained Sluice may exit.
        public var isDrained: Bool { self.draining && self.countsSeeDraining && self.activeJobs == 0 && self.runningTasks == 0 }
    }

    /// A count under a name (a pipeline's, a resource's); equal only if the names' bytes are.
    public struct NamedCount: Sendable, Equatable, CustomStringConvertible {
        /// The name.
        public let name: String
        /// The count.
        public let count: Int

        /// Creates a value.
        public init(_ name: String, _ count: Int) {
            self.name = name
            self.count = count
        }

        public static func == (a: NamedCount, b: NamedCount) -> Bool { a.count == b.count && a.name.utf8.elementsEqual(b.name.utf8) }

        public var description: String { "\(self.name)=\(self.count)" }

        /// `counts` as values ordered by name.
        static func sorted(_ counts: [ByteString: Int]) -> [NamedCount] {
            counts.sorted { $0.key < $1.key }.map { NamedCount($0.key.string, $0.value) }
        }
    }

    /// The latest published activity.
    public var activity: Activity { self.shared.activity.withLock { $0 } }

    /// This host's lease in a shared store; nil if the store is not shared.
    public var host: HostStatus? { self.shared.host.withLock { $0 } }

    /// Starts (`true`) or ends (`false`) draining: while draining, jobs already admitted run to
    /// their end (their next tasks still start), but no new job is admitted; triggers are still
    /// accepted and wait in the queue. Not stored: the next start of Sluice admits them again.
    public func drain(_ draining: Bool) {
        self.shared.activity.withLock {
            // The published counts are from before this change until the runner's next pass.
            if $0.draining != draining { $0.countsSeeDraining = false }
            $0.draining = draining
        }
        self.wake()
    }

    /// Blocks until `isDrained` holds (draining and nothing active) or `timeout` passes; returns
    /// whether it holds. Meant for "drain, then exit".
    public func waitUntilDrained(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if self.activity.isDrained { return true }
            let now = ContinuousClock.now
            if now >= deadline { return false }
            self.shared.published.wait(timeout: min(deadline - now, .milliseconds(200)))
        }
    }

    /// The status journal of job `jobID`: every supervisor of the job appends its attempt's
    /// outcome to it (`StatusJournal`). No task's log can have this name (logs end in
    /// `.<attempt>.log`).
    public static func journalPath(logDirectory: String, jobID: Int64) -> String {
        "\(logDirectory)/\(jobID)/status.journal"
    }

    /// Where a supervisor of an earlier Sluice (before the status journal) recorded the outcome of
    /// attempt `attempt` of `task` of job `jobID`: read only for attempts re-adopted after an
    /// upgrade, whose supervisors still write it.
    public static func legacyStatusPath(logDirectory: String, jobID: Int64, task: String, attempt: Int) -> String {
        "\(logDirectory)/\(jobID)/\(task).\(max(attempt, 1)).status"
    }

    /// Where the log of attempt `attempt` of `task` of job `jobID` is written.
    public static func logPath(logDirectory: String, jobID: Int64, task: String, attempt: Int) -> String {
        "\(logDirectory)/\(jobID)/\(task).\(max(attempt, 1)).log"
    }
}

/// State shared between the runner thread and callers of `Runner`.
final class RunnerShared: Sendable {
    let limits: Locked<Runner.Limits>
    /// Secret parameter values by job id, never written anywhere.
    let secrets = Locked<[Int64: [String: String]]>([:])
    /// What the runner is doing; `draining` is set by callers, the counts by the runner thread.
    let activity = Locked(Runner.Activity())
    /// Signalled each time the runner publishes its activity.
    let published = Signal()
    /// This host's lease (shared stores only), published by the runner thread.
    let host = Locked<Runner.HostStatus?>(nil)
    /// Jobs just created here, as their submission returned them (`Runner.wake(created:)`):
    /// the runner takes one instead of reading the job back when it first loads it.
    let created = Locked<[Int64: JobRecord]>([:])
    /// The most jobs `created` holds; past it, new ones are read back as before.
    static let createdCapacity = 256

    init(limits: Runner.Limits) { self.limits = Locked(limits) }

    /// Keeps `job` for the runner to take (`created`), if it waits for nothing but admission
    /// and there is room.
    func handOver(_ job: JobRecord) {
        guard job.state == .queued else { return }
        self.created.withLock { created in
            if created.count < Self.createdCapacity { created[job.id] = job }
        }
    }
}

/// A wake-up for threads waiting on the runner's published activity: `notify()` wakes every
/// current waiter; a waiter re-checks what it waits for (wake-ups may be spurious or missed
/// between its check and its wait, hence the bounded waits).
final class Signal: Sendable {
    private let semaphoreWaiters = Locked<[DispatchSemaphore]>([])

    /// Wakes every thread currently in `wait(timeout:)`.
    func notify() {
        let waiters = self.semaphoreWaiters.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for waiter in waiters { waiter.signal() }
    }

    /// Waits for the next `notify()` or for `timeout`.
    func wait(timeout: Duration) {
        let semaphore = DispatchSemaphore(value: 0)
        self.semaphoreWaiters.withLock { $0.append(semaphore) }
        let (seconds, attoseconds) = timeout.components
        let nanos = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        _ = semaphore.wait(timeout: .now() + .nanoseconds(nanos))
    }
}
