import ByteStrings
import Foundation
import JobStore
import Logging
import Supervisor
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The runner thread's state and its scheduling passes: it wires the pure parts (`JobPlan`,
/// `Admission`, `ResourcePool`, `OutcomeRules`, `AdoptionRules`, `TeardownSequence`) to the
/// store and to task supervisors.
///
/// One pass: take events (supervisor exits, wake-ups, timers), turn them into task changes with
/// each job's `JobPlan`, claim ready tasks, then `flush()`: commit every change of the pass in
/// one transaction, and only then start the claimed attempts' supervisors. A crash before the
/// commit loses nothing that was acted on; a crash after it leaves attempts `running` that the
/// next start re-adopts (their supervisors live on) or, if they never started, retries.
///
/// `@unchecked Sendable` only so that `Runner.start()` can hand it to the runner thread, which
/// is then its sole user. Confinement: `Runner` creates it, never touches it again, and calls
/// `run()` exactly once (its `lifecycle` lock sees to that), on the thread it starts, so every
/// mutable property belongs to that thread (`Thread.start` orders the initialization before
/// it). Nothing it starts captures `self`: the exit watcher and timers get `queue`, a
/// thread-safe `EventQueue`. `shared` holds only `Locked` values; `store` and `configuration`
/// are immutable and Sendable.
final class RunnerLoop: @unchecked Sendable {
    // Confinement: the runner thread only (see above).

    struct ActiveJob {
        var record: JobRecord
        var plan: JobPlan
        var cancelling = false
        /// Attempts made per task (index), as stored plus those claimed since.
        var attempts: [Int]
        var secrets: [String: String]
    }

    /// An attempt whose supervisor runs (started here or re-adopted), by watch token.
    struct RunningTask {
        var job: Int64
        var index: Int
        var process: SupervisedProcess
        var runKey: String
        /// Whether it was re-adopted at start: its supervisor may be one of an earlier Sluice that
        /// wrote a status file per attempt instead of the journal.
        var adopted: Bool
        var resources: [String: Int]
        /// Size and modification time of its log when last copied to a shared store while it
        /// ran (`shipRunningLogs`); nil before the first copy.
        var shippedLog: LogStamp? = nil
        /// When this process started it (its duration for `onAttemptEnded`).
        var started = ContinuousClock.now
    }

    /// A log file's size and modification time: whether it changed since the last copy.
    struct LogStamp: Equatable {
        var size: Int
        var modified: timespec

        static func == (a: LogStamp, b: LogStamp) -> Bool {
            a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
        }
    }

    struct Claim {
        var job: Int64
        var index: Int
        /// The resource amounts taken for it.
        var resources: [String: Int]
    }

    let store: any JobStore
    let configuration: Runner.Configuration
    let queue: EventQueue<Runner.Event>
    let shared: RunnerShared
    let teardown: TeardownSequence
    let logger = Logger(label: "runner")
    /// Reports supervisor exits as `.supervisorExited` events; nil if it could not be set up
    /// (then every attempt is polled by `sweep()`).
    var watcher: ExitWatcher? = nil

    var active: [Int64: ActiveJob] = [:]
    /// The status journals of active jobs that have started an attempt, read as their
    /// supervisors finish.
    var journals: [Int64: StatusJournal] = [:]
    var running: [UInt64: RunningTask] = [:]
    /// Process slots taken: running attempts plus claims not yet started.
    var slotsInUse = 0
    var resources = ResourcePool()
    /// Ready tasks waiting for a named resource.
    var blocked: [(job: Int64, index: Int)] = []
    /// Ready command tasks waiting for a free process slot, oldest first (`slotHead` is the
    /// front): kept apart from the jobs' ready queues so that `noop` tasks behind them still
    /// complete at once.
    var slotQueue: [(job: Int64, index: Int)] = []
    var slotHead = 0
    /// Queued tasks waiting for their retry time.
    var retryTimers: [(due: Date, job: Int64, index: Int)] = []
    /// Changes found this pass, per job, not yet committed; a job with no changes may be listed
    /// so that its derived state is written.
    var pending: [Int64: [TaskChange]] = [:]
    /// Tasks claimed this pass, started after the commit.
    var claims: [Claim] = []
    var nextToken: UInt64 = 0
    var stopping = false
    var needsRefresh = false
    /// The `draining` flag the latest `refresh()` acted on.
    var drainingSeen = false
    /// When a failed commit is tried again.
    var flushRetryAt: Date? = nil
    /// Tokens of running attempts the exit watcher does not cover (no pidfd), which `sweep()`
    /// polls; empty on any kernel since Linux 5.3.
    var unwatched: Set<UInt64> = []
    /// When `unwatched` is next polled.
    var sweepAt: Date? = nil
    /// The shared store and this host's lease, when several hosts share the store; nil when
    /// this runner is the only one on its store.
    var hosting: Hosting? = nil
    /// Wakes the runner on other hosts' changes (shared stores only).
    var listener: HostListener? = nil
    /// Copies finished attempts' logs to the shared store (shared stores only).
    var shipper: LogShipper? = nil
    /// Kills this host's attempts when its lease surely ran out unrenewed (shared store only).
    var watchdog: LeaseWatchdog? = nil

    init(store: any JobStore, configuration: Runner.Configuration, queue: EventQueue<Runner.Event>, shared: RunnerShared) {
        self.store = store
        self.configuration = configuration
        self.queue = queue
        self.shared = shared
        self.teardown = .graceful(gracePeriod: configuration.gracePeriod)
        if let settings = configuration.hosting, let shared = store as? any SharedJobStore {
            self.hosting = Hosting(store: shared, settings: settings)
        }
    }

    func run() {
        do {
            self.watcher = try ExitWatcher { [queue] token in queue.post(.supervisorExited(token: token)) }
        } catch {
            self.logger.error("watching supervisors by polling", ["error": "\(error)"])
        }
        if self.hosting != nil {
            let prefix = ProcessIdentity.instancePrefix(logDirectory: self.configuration.logDirectory)
            self.watchdog = LeaseWatchdog { [logger] in
                logger.error("lease ran out unrenewed: killing every task of this host now; another host may rescue its jobs")
                Self.killAttempts(of: ProcessIdentity.carriers(withPrefix: prefix))
            }
            guard self.register() else {
                self.watchdog?.stop()
                self.shutDown()
                self.watcher?.stop()
                return
            }
            self.shipper = LogShipper(store: self.hosting!.store)
            self.listener = HostListener(store: self.hosting!.store) { [queue, configuration] changes in
                // Only what may be claimable wakes the runner; every change wakes watchers.
                if changes.contains(.claimable) { queue.post(.wake) }
                configuration.onChangeElsewhere?()
            }
        }
        self.recover()
        if self.hosting != nil { self.killUnowned() }
        self.refresh()
        self.pass()
        self.publish()
        while !self.stopping {
            let events = self.queue.takeAll(until: self.nextDeadline())
            // Before the events: the supervisors the watchdog killed must not be recorded as
            // ended here; the jobs are forgotten unrecorded first.
            if self.watchdog?.takeFired() == true && self.hosting?.lease != nil { self.loseLease() }
            for event in events {
                switch event {
                case .wake:
                    self.needsRefresh = true
                    self.unblock()  // resource capacities may have changed
                case .supervisorExited(let token): self.attemptEnded(token)
                case .stop: self.stopping = true
                }
            }
            if self.stopping { break }
            self.fireDueTimers()
            self.keepLease()
            self.pass()
            self.publish()
        }
        // Stopping may leave tasks running under their supervisors: nothing may kill them now.
        self.watchdog?.stop()
        self.listener?.stop()
        self.shutDown()
        self.watcher?.stop()
        self.shipper?.stop()
        self.publish()
    }

    /// Schedules and commits until nothing more happens without an outside event.
    private func pass() {
        var rounds = 0
        repeat {
            if self.needsRefresh {
                self.needsRefresh = false
                self.refresh()
            }
            self.schedule()
            if self.pending.isEmpty && self.claims.isEmpty { return }
            guard self.flush() else { return }
            rounds += 1
        } while rounds < 1000
    }

    /// Publishes the counts callers see as `Runner.activity`, and wakes their waiters.
    func publish() {
        let jobs = self.active.count
        let tasks = self.running.count
        let seen = self.drainingSeen
        let slots = self.slotsInUse
        // At most `parallelism` entries: cheap enough for every pass.
        var byPipeline: [ByteString: Int] = [:]
        for task in self.running.values {
            if let job = self.active[task.job] { byPipeline[ByteString(job.record.pipeline), default: 0] += 1 }
        }
        let pipelines = Runner.NamedCount.sorted(byPipeline)
        let resources = Runner.NamedCount.sorted(self.resources.use)
        self.shared.activity.withLock {
            $0.activeJobs = jobs
            $0.runningTasks = tasks
            $0.countsSeeDraining = $0.draining == seen
            $0.slotsInUse = slots
            $0.runningByPipeline = pipelines
            $0.resourcesInUse = resources
        }
        self.shared.published.notify()
    }

    private func nextDeadline() -> Date? {
        var next = self.flushRetryAt
        if let sweep = self.sweepAt, next == nil || sweep < next! { next = sweep }
        for timer in self.retryTimers where next == nil || timer.due < next! { next = timer.due }
        if let renewAt = self.hosting?.renewAt, next == nil || renewAt < next! { next = renewAt }
        return next
    }

    private func fireDueTimers() {
        let now = Date()
        if let at = self.flushRetryAt, at <= now { self.flushRetryAt = nil }
        if let at = self.sweepAt, at <= now { self.sweep() }
        guard self.retryTimers.contains(where: { $0.due <= now }) else { return }
        var later: [(due: Date, job: Int64, index: Int)] = []
        for timer in self.retryTimers {
            if timer.due <= now { self.active[timer.job]?.plan.makeReady(timer.index) } else { later.append(timer) }
        }
        self.retryTimers = later
    }

    /// Polls attempts the exit watcher does not cover (no pidfd: a kernel before 5.3).
    private func sweep() {
        self.sweepAt = nil
        for token in self.unwatched {
            guard let task = self.running[token] else {
                self.unwatched.remove(token)
                continue
            }
            let gone = task.process.isChild ? TaskProcess.reapIfExited(task.process.pid) != nil : Glibc.kill(task.process.pid, 0) != 0
            if gone {
                self.unwatched.remove(token)
                self.queue.post(.supervisorExited(token: token))
            }
        }
        if !self.unwatched.isEmpty { self.sweepAt = Date().addingTimeInterval(0.1) }
    }

    // MARK: - Scheduling

    /// Claims ready tasks, oldest job first, while slots are free: `noop` tasks and tasks whose
    /// `creates` output exists complete at once (taking no slot), others are claimed as running
    /// and spawned after the next commit.
    private func schedule() {
        guard !self.stopping else { return }
        let capacities = self.shared.limits.withLock { $0.resources }
        // Tasks that already waited for a slot go first.
        while self.slotsInUse < self.configuration.parallelism && self.slotHead < self.slotQueue.count {
            let (id, i) = self.slotQueue[self.slotHead]
            self.slotHead += 1
            guard var job = self.active[id], !job.cancelling, job.plan.state(at: i) == .queued else { continue }
            if let change = self.claim(&job, i, capacities: capacities) { self.pending[id, default: []].append(change) }
            self.active[id] = job
        }
        if self.slotHead == self.slotQueue.count {
            self.slotQueue.removeAll(keepingCapacity: true)
            self.slotHead = 0
        }
        for id in self.active.keys.sorted() {
            guard var job = self.active[id], !job.cancelling else { continue }
            var changes: [TaskChange] = []
            while let i = job.plan.nextReady() {
                job.plan.takeReady()
                let task = job.record.tasks[i]
                if task.kind == .noop {
                    changes += job.plan.finish(i, as: .succeeded)
                    continue
                }
                if let path = task.options.creates.map({
                    Self.resolve($0, in: task.options.workingDirectory ?? job.record.workingDirectory)
                }),
                    Self.exists(path)
                {
                    changes += job.plan.finish(i, as: .succeeded, message: "already complete: \(path) exists")
                    continue
                }
                guard self.slotsInUse < self.configuration.parallelism else {
                    self.slotQueue.append((id, i))
                    continue
                }
                if let change = self.claim(&job, i, capacities: capacities) { changes.append(change) }
            }
            self.active[id] = job
            if !changes.isEmpty { self.pending[id, default: []] += changes }
        }
    }

    /// Claims a ready command task if its resources are free (else parks it until they are):
    /// marks it running and queues its start for after the commit.
    func claim(_ job: inout ActiveJob, _ i: Int, capacities: [String: Int]) -> TaskChange? {
        let id = job.record.id
        let task = job.record.tasks[i]
        guard let held = self.resources.acquire(task.options.resources, capacities: capacities) else {
            self.blocked.append((id, i))
            return nil
        }
        job.plan.markRunning(i)
        job.attempts[i] += 1
        self.slotsInUse += 1
        self.claims.append(Claim(job: id, index: i, resources: held))
        return TaskChange(task: task.name, state: .running)
    }

    /// `path` if absolute, else relative to `directory` (a task's `creates` is relative to the
    /// directory the task runs in, not to Sluice's).
    static func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    func release(_ held: [String: Int]) {
        guard !held.isEmpty else { return }
        self.resources.release(held)
        self.unblock()
    }

    /// Puts tasks that waited for a resource back on their jobs' ready queues.
    private func unblock() {
        for (job, index) in self.blocked { self.active[job]?.plan.makeReady(index) }
        self.blocked.removeAll()
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    // MARK: - Committing and starting

    /// Commits every pending change in one transaction, then starts the claimed attempts' supervisors and
    /// records their supervisors' pids (a second transaction). Returns false if the commit failed; the
    /// changes then stay pending and the commit is tried again a second later.
    @discardableResult
    func flush() -> Bool {
        let updates = self.pending.map { id, changes in
            JobUpdate(jobID: id, changes: changes, jobState: self.active[id]?.plan.jobState ?? .failed)
        }
        var refused: Set<Int64> = []
        let committing = ContinuousClock.now
        func reportCommit(_ succeeded: Bool) {
            guard let report = self.configuration.onCommit else { return }
            report((ContinuousClock.now - committing).inSeconds, succeeded)
        }
        do {
            if let hosting = self.hosting, let lease = hosting.lease {
                refused = try hosting.store.record(updates, fencedBy: lease)
            } else {
                try self.store.record(updates)
            }
            reportCommit(true)
        } catch {
            reportCommit(false)
            self.logger.error("cannot commit task changes; retrying in 1 s", ["error": "\(error)", "jobs": "\(updates.count)"])
            self.flushRetryAt = Date().addingTimeInterval(1)
            return false
        }
        self.pending.removeAll(keepingCapacity: true)
        // Fenced off: another host owns these jobs now (this host's lease had expired and they
        // were rescued). Nothing of them was written; stop what still runs of them here.
        if !refused.isEmpty { self.lose(jobs: refused) }
        for update in updates where !refused.contains(update.jobID) {
            self.configuration.onJobChange?(update.jobID, update.jobState)
            if update.jobState.isTerminal, let finished = self.active.removeValue(forKey: update.jobID) {
                self.configuration.onJobFinished?(
                    finished.record.pipeline, update.jobState, Date().timeIntervalSince(finished.record.createdAt))
                self.shared.secrets.withLock { _ = $0.removeValue(forKey: update.jobID) }
                self.journals.removeValue(forKey: update.jobID)
                self.retryTimers.removeAll { $0.job == update.jobID }
                self.needsRefresh = true  // a waiting job may now be admitted
                self.logger.info("job finished", ["job.id": "\(update.jobID)", "state": update.jobState.rawValue])
            }
        }
        guard !self.claims.isEmpty else { return true }
        FaultPoint.afterClaim.check()
        let claims = self.claims
        self.claims.removeAll(keepingCapacity: true)
        var started: [(jobID: Int64, task: String, pid: Int32)] = []
        for claim in claims {
            if let pid = self.launch(claim) { started.append((claim.job, self.active[claim.job]!.record.tasks[claim.index].name, pid)) }
        }
        FaultPoint.afterSpawn.check()
        do {
            if let hosting = self.hosting, let lease = hosting.lease {
                try hosting.store.recordProcesses(started, fencedBy: lease)
            } else {
                try self.store.recordProcesses(started)
            }
        } catch {
            self.logger.error("cannot record pids", ["error": "\(error)"])
        }
        return true
    }

    /// Starts a claimed attempt's supervisor; returns its pid, or nil if it could not start
    /// (then the attempt's failure is pending and its slot free).
    private func launch(_ claim: Claim) -> Int32? {
        guard let job = self.active[claim.job] else {
            self.slotsInUse -= 1
            self.release(claim.resources)
            return nil
        }
        let record = job.record
        let task = record.tasks[claim.index]
        let attempt = job.attempts[claim.index]
        let directory = "\(self.configuration.logDirectory)/\(record.id)"
        let logPath = Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: record.id, task: task.name, attempt: attempt)
        let journalPath = Runner.journalPath(logDirectory: self.configuration.logDirectory, jobID: record.id)
        let runKey = ProcessIdentity.runKey(
            logDirectory: self.configuration.logDirectory, jobID: record.id, task: task.name, attempt: attempt)
        var environment = self.configuration.environment
        for (key, value) in task.options.environment { environment[key] = value }
        environment["SLUICE_JOB_ID"] = String(record.id)
        environment["SLUICE_PIPELINE"] = record.pipeline
        environment["SLUICE_TASK"] = task.name
        environment["SLUICE_ATTEMPT"] = String(attempt)
        environment["SLUICE_RUN_KEY"] = runKey
        for (key, value) in record.params { environment["SLUICE_PARAM_" + key.uppercased()] = value }
        for (key, value) in job.secrets { environment["SLUICE_PARAM_" + key.uppercased()] = value }
        let workingDirectory = task.options.workingDirectory ?? record.workingDirectory
        do throws(TaskProcess.SpawnError) {
            try TaskProcess.makeLogDirectory(self.configuration.logDirectory)
            try TaskProcess.makeLogDirectory(directory)
            guard let program = task.argv.first, !program.isEmpty else { throw TaskProcess.SpawnError(reason: "empty argv") }
            let executable = try TaskProcess.resolve(
                program, path: environment["PATH"] ?? "/usr/bin:/bin", workingDirectory: workingDirectory)
            // A record of this attempt cannot be in the journal yet (attempts only grow), unless
            // a log directory was restored from elsewhere: never take someone else's outcome.
            self.journals[record.id, default: self.newJournal(record.id)].discard(runKey: runKey)
            let launch = SupervisorLaunch(
                executable: self.configuration.supervisorPath, runKey: runKey, logPath: logPath, journalPath: journalPath,
                headBytes: self.configuration.logLimits.headBytes, tailBytes: self.configuration.logLimits.tailBytes,
                gracePeriod: self.teardown.gracePeriod, timeout: task.options.timeout, workingDirectory: workingDirectory,
                program: executable, argv: task.argv, environment: environment)
            let process = try launch.start()
            self.track(process, job: record.id, index: claim.index, runKey: runKey, adopted: false, resources: claim.resources)
            self.logger.debug(
                "task started", ["job.id": "\(record.id)", "task": task.name, "attempt": "\(attempt)", "supervisor.pid": "\(process.pid)"])
            return process.pid
        } catch {
            _ = FileManager.default.createFile(atPath: logPath, contents: Data("sluice: \(error.reason)\n".utf8))
            self.slotsInUse -= 1
            self.release(claim.resources)
            self.settle(claim.job, claim.index, .failed(exitCode: 127, message: error.reason))
            return nil
        }
    }

    /// Keeps a running supervisor and has the watcher report its exit.
    func track(_ process: SupervisedProcess, job: Int64, index: Int, runKey: String, adopted: Bool, resources: [String: Int]) {
        self.nextToken += 1
        let token = self.nextToken
        self.running[token] = RunningTask(
            job: job, index: index, process: process, runKey: runKey, adopted: adopted, resources: resources)
        if self.watcher?.watch(process, token: token) != true {
            self.unwatched.insert(token)
            if self.sweepAt == nil { self.sweepAt = Date().addingTimeInterval(0.1) }
        }
    }

    // MARK: - Stopping

    /// Leaves running attempts to their supervisors (the default: the next start re-adopts
    /// them), or with `stopTasksOnExit` stops each one through its supervisor and records it as
    /// interrupted. Commits what is pending either way.
    private func shutDown() {
        if self.configuration.stopTasksOnExit {
            for task in self.running.values { task.process.signal(SIGTERM) }
            let deadline = Date().addingTimeInterval(self.teardown.supervisorPatience)
            while !self.running.isEmpty {
                let events = self.queue.takeAll(until: min(deadline, Date().addingTimeInterval(0.1)))
                for case .supervisorExited(let token) in events { self.attemptEnded(token) }
                self.sweep()
                if Date() >= deadline { break }
            }
            for (token, task) in self.running {
                // A supervisor that outlived its patience.
                self.killAttempt(task)
                _ = self.running.removeValue(forKey: token)
                self.apply(nil, job: task.job, index: task.index)
            }
        } else if !self.running.isEmpty {
            self.logger.info("leaving tasks running under their supervisors", ["tasks": "\(self.running.count)"])
            for task in self.running.values { task.process.close() }
            self.running.removeAll()
        }
        if !self.pending.isEmpty { self.flush() }
        self.logger.info("runner stopped")
    }
}
