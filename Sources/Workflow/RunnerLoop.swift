import Foundation
import JobStore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The runner thread's state and its scheduling passes.
///
/// One pass: take events (exits, timers, wake-ups), turn them into task changes with each job's
/// `JobPlan`, claim ready tasks, then `flush()`: commit every change of the pass in one
/// transaction, and only then spawn the claimed processes. A crash before the commit loses
/// nothing that was acted on; a crash after it leaves tasks `running` that recovery handles.
///
/// `@unchecked Sendable` only so that `Runner.start()` can hand it to the runner thread, which
/// is then its sole user. Confinement: `Runner` creates it, never touches it again, and calls
/// `run()` exactly once (its `lifecycle` lock sees to that), on the thread it starts, so every
/// mutable property belongs to that thread (`Thread.start` orders the initialization before
/// it). Nothing it spawns captures `self`: process waiters and timers get `queue`, a
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

    struct RunningTask {
        var job: Int64
        var index: Int
        var serial: UInt64
        var timedOut = false
        var resources: [String: Int]
    }

    struct Claim {
        var job: Int64
        var index: Int
        var serial: UInt64
        /// The resource amounts taken for it.
        var resources: [String: Int]
    }

    let store: any JobStore
    let configuration: Runner.Configuration
    let queue: EventQueue<Runner.Event>
    let shared: RunnerShared
    let logger = Logger(label: "runner")

    var active: [Int64: ActiveJob] = [:]
    var running: [Int32: RunningTask] = [:]
    /// Process slots taken: running processes plus claims not yet spawned.
    var slotsInUse = 0
    var resourceUse: [String: Int] = [:]
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
    /// Tasks claimed this pass, spawned after the commit.
    var claims: [Claim] = []
    var nextSerial: UInt64 = 0
    var stopping = false
    var needsRefresh = false
    /// When a failed commit is tried again.
    var flushRetryAt: Date? = nil

    init(store: any JobStore, configuration: Runner.Configuration, queue: EventQueue<Runner.Event>, shared: RunnerShared) {
        self.store = store
        self.configuration = configuration
        self.queue = queue
        self.shared = shared
    }

    func run() {
        self.refresh()
        self.pass()
        self.publish()
        while !self.stopping {
            for event in self.queue.takeAll(until: self.nextDeadline()) {
                switch event {
                case .wake:
                    self.needsRefresh = true
                    self.unblock()  // resource capacities may have changed
                case .exited(let pid, let code, let logFailure): self.processExited(pid: pid, code: code, logFailure: logFailure)
                case .timeout(let pid, let serial): self.timedOut(pid: pid, serial: serial)
                case .killDeadline(let pid, let serial):
                    if self.running[pid]?.serial == serial { TaskProcess.signalGroup(pid, SIGKILL) }
                case .stop: self.stopping = true
                }
            }
            if self.stopping { break }
            self.fireDueTimers()
            self.pass()
            self.publish()
        }
        self.shutDown()
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

    private func nextDeadline() -> Date? {
        var next = self.flushRetryAt
        for timer in self.retryTimers where next == nil || timer.due < next! { next = timer.due }
        return next
    }

    private func fireDueTimers() {
        let now = Date()
        if let at = self.flushRetryAt, at <= now { self.flushRetryAt = nil }
        guard self.retryTimers.contains(where: { $0.due <= now }) else { return }
        var later: [(due: Date, job: Int64, index: Int)] = []
        for timer in self.retryTimers {
            if timer.due <= now { self.active[timer.job]?.plan.makeReady(timer.index) } else { later.append(timer) }
        }
        self.retryTimers = later
    }

    /// Publishes the counts callers see as `Runner.activity`, and wakes their waiters.
    private func publish() {
        let jobs = self.active.count
        let tasks = self.running.count
        self.shared.activity.withLock {
            $0.activeJobs = jobs
            $0.runningTasks = tasks
        }
        self.shared.published.notify()
    }

    // MARK: - Jobs

    /// Loads jobs the runner does not hold yet, if their pipeline's concurrency and the duplicate
    /// rule admit them, and acts on new cancel requests.
    func refresh() {
        let unfinished: [JobRecord]
        do { unfinished = try self.store.unfinishedJobs() } catch {
            self.logger.error("cannot list unfinished jobs", ["error": "\(error)"])
            return
        }
        let limits = self.shared.limits.withLock { $0 }
        let draining = self.shared.activity.withLock { $0.draining }
        var runningPerPipeline: [String: Int] = [:]
        for job in self.active.values { runningPerPipeline[job.record.pipeline, default: 0] += 1 }
        var earlierIdentities: Set<String> = []
        for summary in unfinished {
            let identityKey = summary.pipeline + "\u{0}" + summary.identity
            defer { earlierIdentities.insert(identityKey) }
            if self.active[summary.id] == nil {
                // A waiting job that is cancelled is loaded only to record the cancellation.
                if !summary.cancelRequested {
                    // Draining: jobs already admitted go on; new ones wait in the queue.
                    if draining { continue }
                    if let limit = limits.concurrency[summary.pipeline], runningPerPipeline[summary.pipeline, default: 0] >= limit {
                        continue
                    }
                    if summary.waitsForIdentity && earlierIdentities.contains(identityKey) { continue }
                }
                guard let job = self.load(summary.id) else { continue }
                self.active[summary.id] = job
                runningPerPipeline[summary.pipeline, default: 0] += 1
            }
            if summary.cancelRequested && self.active[summary.id]?.cancelling == false { self.cancel(summary.id) }
        }
    }

    /// Loads a job into memory, recovering tasks a dead process left `running`.
    private func load(_ id: Int64) -> ActiveJob? {
        let record: JobRecord
        do {
            guard let found = try self.store.job(id: id) else { return nil }
            record = found
        } catch {
            self.logger.error("cannot load job", ["job.id": "\(id)", "error": "\(error)"])
            return nil
        }
        let secrets = self.shared.secrets.withLock { $0[id] } ?? [:]
        var job = ActiveJob(record: record, plan: JobPlan(tasks: record.tasks), attempts: record.tasks.map(\.attempt), secrets: secrets)
        var changes: [TaskChange] = []
        // A task recorded as running that this process did not start was interrupted by a crash
        // or stop of an earlier Sluice process.
        let interrupted = record.tasks.indices.filter { record.tasks[$0].state == .running }
        // Processes are found by their run key as well as by pid: a crash between spawn and the
        // pid's commit leaves a live task that no stored pid names.
        let keys = Dictionary(
            interrupted.map { i in
                (
                    ProcessIdentity.runKey(
                        logDirectory: self.configuration.logDirectory, jobID: id, task: record.tasks[i].name,
                        attempt: record.tasks[i].attempt), i
                )
            }, uniquingKeysWith: { a, _ in a })
        let groups = interrupted.isEmpty ? [:] : ProcessIdentity.processGroups(carrying: Set(keys.keys))
        for (key, i) in keys {
            let task = record.tasks[i]
            var killed = groups[key] ?? []
            if let pid = task.pid, let started = task.startedAt, ProcessIdentity.isTaskProcess(pid: pid, startedAt: started) {
                killed.insert(pid)
            }
            for group in killed {
                TaskProcess.signalGroup(group, SIGKILL)
                self.logger.warning(
                    "killed task left running by a previous process", ["job.id": "\(id)", "task": task.name, "process.group": "\(group)"])
            }
        }
        for i in interrupted {
            changes += self.failOrRetry(&job, i, exitCode: nil, message: "interrupted: Sluice stopped while the task was running")
        }
        for (i, task) in record.tasks.enumerated() where task.state == .queued {
            if let due = task.retryAt { self.retryTimers.append((due, id, i)) }
        }
        // Secret values live only in memory: after a restart the job cannot get them back.
        let missing = record.secretParameters.filter { job.secrets[$0] == nil }
        if !missing.isEmpty {
            changes += job.plan.failQueued(
                message: "interrupted: secret parameters (\(missing.joined(separator: ", "))) are never stored, "
                    + "so the job cannot resume after a restart; trigger it again")
        }
        // Listed even without changes, so a stored state that disagrees with the tasks (e.g. all
        // settled before a crash) is corrected by the next commit.
        self.pending[id, default: []] += changes
        return job
    }

    private func cancel(_ id: Int64) {
        guard var job = self.active[id] else { return }
        job.cancelling = true
        self.pending[id, default: []] += job.plan.cancelQueued()
        self.active[id] = job
        for (pid, task) in self.running where task.job == id {
            TaskProcess.signalGroup(pid, SIGTERM)
            self.scheduleKill(pid, serial: task.serial)
        }
        self.logger.info("job cancelling", ["job.id": "\(id)"])
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
    /// marks it running and queues its spawn for after the commit.
    private func claim(_ job: inout ActiveJob, _ i: Int, capacities: [String: Int]) -> TaskChange? {
        let id = job.record.id
        let task = job.record.tasks[i]
        guard let held = self.acquire(task.options.resources, capacities: capacities) else {
            self.blocked.append((id, i))
            return nil
        }
        job.plan.markRunning(i)
        job.attempts[i] += 1
        self.slotsInUse += 1
        self.nextSerial += 1
        self.claims.append(Claim(job: id, index: i, serial: self.nextSerial, resources: held))
        return TaskChange(task: task.name, state: .running)
    }

    /// `path` if absolute, else relative to `directory` (a task's `creates` is relative to the
    /// directory the task runs in, not to Sluice's).
    static func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    /// Takes the resources a task needs if they are free; returns what it now holds. A job
    /// keeps the amounts it was triggered with, so after a reload lowered a capacity below such
    /// an amount the task holds the whole capacity instead of waiting forever; a resource no
    /// longer configured is unlimited.
    private func acquire(_ wanted: [String: Int], capacities: [String: Int]) -> [String: Int]? {
        var held: [String: Int] = [:]
        for (name, amount) in wanted {
            guard let capacity = capacities[name] else { continue }
            let take = min(amount, capacity)
            if self.resourceUse[name, default: 0] + take > capacity { return nil }
            held[name] = take
        }
        for (name, amount) in held { self.resourceUse[name, default: 0] += amount }
        return held
    }

    private func release(_ held: [String: Int]) {
        guard !held.isEmpty else { return }
        for (name, amount) in held { self.resourceUse[name, default: 0] -= amount }
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

    // MARK: - Committing and spawning

    /// Commits every pending change in one transaction, then spawns the claimed tasks and
    /// records their pids (a second transaction). Returns false if the commit failed; the
    /// changes then stay pending and the commit is tried again a second later.
    @discardableResult
    func flush() -> Bool {
        let updates = self.pending.map { id, changes in
            JobUpdate(jobID: id, changes: changes, jobState: self.active[id]?.plan.jobState ?? .failed)
        }
        do { try self.store.record(updates) } catch {
            self.logger.error("cannot commit task changes; retrying in 1 s", ["error": "\(error)", "jobs": "\(updates.count)"])
            self.flushRetryAt = Date().addingTimeInterval(1)
            return false
        }
        self.pending.removeAll(keepingCapacity: true)
        for update in updates {
            self.configuration.onJobChange?(update.jobID, update.jobState)
            if update.jobState.isTerminal, self.active.removeValue(forKey: update.jobID) != nil {
                self.shared.secrets.withLock { _ = $0.removeValue(forKey: update.jobID) }
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
        do { try self.store.recordProcesses(started) } catch {
            self.logger.error("cannot record pids", ["error": "\(error)"])
        }
        return true
    }

    /// Spawns a claimed task; returns its pid, or nil if it could not start (then its failure is
    /// pending and its slot free).
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
        var environment = self.configuration.environment
        for (key, value) in task.options.environment { environment[key] = value }
        environment["SLUICE_JOB_ID"] = String(record.id)
        environment["SLUICE_PIPELINE"] = record.pipeline
        environment["SLUICE_TASK"] = task.name
        environment["SLUICE_ATTEMPT"] = String(attempt)
        environment["SLUICE_RUN_KEY"] = ProcessIdentity.runKey(
            logDirectory: self.configuration.logDirectory, jobID: record.id, task: task.name, attempt: attempt)
        for (key, value) in record.params { environment["SLUICE_PARAM_" + key.uppercased()] = value }
        for (key, value) in job.secrets { environment["SLUICE_PARAM_" + key.uppercased()] = value }
        do {
            try TaskProcess.makeLogDirectory(self.configuration.logDirectory)
            try TaskProcess.makeLogDirectory(directory)
            let spawned = try TaskProcess.spawnPiped(
                argv: task.argv, environment: environment, workingDirectory: task.options.workingDirectory ?? record.workingDirectory)
            let pid = spawned.pid
            self.running[pid] = RunningTask(job: record.id, index: claim.index, serial: claim.serial, resources: claim.resources)
            let queue = self.queue
            let limits = self.configuration.logLimits
            let waiter = Thread {
                let outcome = TaskProcess.supervise(spawned, logPath: logPath, limits: limits, killGroupOnExit: true)
                queue.post(.exited(pid: pid, code: outcome.exitCode, logFailure: outcome.logFailure))
            }
            waiter.name = "wait-\(pid)"
            waiter.start()
            if let timeout = task.options.timeout {
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [queue, serial = claim.serial] in
                    queue.post(.timeout(pid: pid, serial: serial))
                }
            }
            self.logger.debug(
                "task started", ["job.id": "\(record.id)", "task": task.name, "attempt": "\(attempt)", "process.pid": "\(pid)"])
            return pid
        } catch {
            _ = FileManager.default.createFile(atPath: logPath, contents: Data("sluice: \(error.reason)\n".utf8))
            self.slotsInUse -= 1
            self.release(claim.resources)
            self.settle(claim.job, claim.index, exitCode: 127, failure: error.reason)
            return nil
        }
    }

    // MARK: - Outcomes

    private func timedOut(pid: Int32, serial: UInt64) {
        guard var task = self.running[pid], task.serial == serial else { return }
        task.timedOut = true
        self.running[pid] = task
        TaskProcess.signalGroup(pid, SIGTERM)
        self.scheduleKill(pid, serial: serial)
    }

    private func scheduleKill(_ pid: Int32, serial: UInt64) {
        DispatchQueue.global().asyncAfter(deadline: .now() + self.configuration.gracePeriod) { [queue] in
            queue.post(.killDeadline(pid: pid, serial: serial))
        }
    }

    private func processExited(pid: Int32, code: Int32, logFailure: String? = nil) {
        FaultPoint.duringCompletion.check()
        guard let task = self.running.removeValue(forKey: pid) else { return }
        self.slotsInUse -= 1
        // The task is over once its leader exits; background children it left in its process
        // group would otherwise outlive it unsupervised.
        TaskProcess.signalGroup(pid, SIGKILL)
        self.release(task.resources)
        guard let job = self.active[task.job] else { return }
        let definition = job.record.tasks[task.index]
        // A log cut short (full disk) is said on the task and in Sluice's log; the task's own
        // outcome stands.
        let note = logFailure.map { "log incomplete: \($0)" }
        if let logFailure {
            self.logger.warning(
                "task log cut short", ["job.id": "\(task.job)", "task": definition.name, "process.pid": "\(pid)", "error": logFailure])
        }
        if job.cancelling {
            self.pending[task.job, default: []] += self.active[task.job]!.plan.finish(
                task.index, as: .cancelled, exitCode: code, message: "cancelled")
        } else if self.stopping {
            self.settle(task.job, task.index, exitCode: code, failure: "interrupted: Sluice stopped while the task was running")
        } else if task.timedOut {
            self.settle(task.job, task.index, exitCode: code, failure: "timed out after \(Self.seconds(definition.options.timeout ?? 0))")
        } else if code == 0 {
            if let creates = definition.options.creates,
                case let path = Self.resolve(creates, in: definition.options.workingDirectory ?? job.record.workingDirectory),
                !Self.exists(path)
            {
                self.settle(task.job, task.index, exitCode: code, failure: "exited with status 0 but did not create \(path)")
            } else {
                self.settle(task.job, task.index, exitCode: code, failure: nil, note: note)
            }
        } else {
            let failure = code > 128 ? "killed by signal \(code - 128)" : "exited with status \(code)"
            self.settle(task.job, task.index, exitCode: code, failure: note.map { "\(failure); \($0)" } ?? failure)
        }
        self.logger.debug("task finished", ["job.id": "\(task.job)", "task": definition.name, "exit": "\(code)"])
    }

    /// Records a task's outcome: success, or a failure that is retried if the policy allows.
    private func settle(_ id: Int64, _ index: Int, exitCode: Int32?, failure: String?, note: String? = nil) {
        guard var job = self.active[id] else { return }
        if let failure {
            self.pending[id, default: []] += self.failOrRetry(&job, index, exitCode: exitCode, message: failure)
        } else {
            self.pending[id, default: []] += job.plan.finish(index, as: .succeeded, exitCode: exitCode, message: note)
        }
        self.active[id] = job
    }

    /// A failed attempt: queued again after the policy's backoff if attempts remain, else failed
    /// (which skips what depends on it).
    private func failOrRetry(_ job: inout ActiveJob, _ index: Int, exitCode: Int32?, message: String) -> [TaskChange] {
        let policy = job.record.tasks[index].options.retry
        let attempts = job.attempts[index]
        guard policy.allowsAnotherAttempt(after: attempts), !job.cancelling else {
            return job.plan.finish(index, as: .failed, exitCode: exitCode, message: message)
        }
        let delay = policy.delay(after: attempts, random: self.configuration.random())
        let due = Date().addingTimeInterval(delay)
        self.retryTimers.append((due, job.record.id, index))
        let note = "\(message); attempt \(attempts + 1) of \(policy.retries + 1) in \(Self.seconds(delay))"
        return [job.plan.queueRetry(index, exitCode: exitCode, message: note, retryAt: due)]
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1f s", value) : "\(Int(value.rounded())) s"
    }

    // MARK: - Stopping

    /// Stops every running task (SIGTERM, then SIGKILL after the grace period) and commits what
    /// became of it.
    private func shutDown() {
        for pid in self.running.keys { TaskProcess.signalGroup(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(self.configuration.gracePeriod)
        var killed = false
        while !self.running.isEmpty {
            let events = self.queue.takeAll(until: killed ? nil : deadline)
            if events.isEmpty && !killed {
                for pid in self.running.keys { TaskProcess.signalGroup(pid, SIGKILL) }
                killed = true
            }
            for case .exited(let pid, let code, let logFailure) in events {
                self.processExited(pid: pid, code: code, logFailure: logFailure)
            }
        }
        if !self.pending.isEmpty { self.flush() }
        self.logger.info("runner stopped")
    }
}
