import Foundation
public import JobStore
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Executes jobs: one scheduler thread owns every running job, claims queued jobs from the store,
/// starts ready tasks up to the parallelism limit, and commits each state transition to the
/// store before acting on it.
///
/// The web side meets the runner only at the store plus `wake()`, a non-blocking signal; the
/// runner never polls on a timer. Each task process has a waiter thread that reports its exit.
///
/// ```swift
/// let runner = Runner(store: store, configuration: .init(logDirectory: "/var/lib/sluice/logs"))
/// runner.start()
/// _ = try store.createJob(job); runner.wake()
/// runner.stop()   // on shutdown: stops running tasks, records them as interrupted
/// ```
public final class Runner: Sendable {
    /// Runner settings.
    public struct Configuration: Sendable {
        /// Most task processes running at once, across all jobs.
        public var parallelism: Int
        /// Where task logs go: `<logDirectory>/<job id>/<task>.log`.
        public var logDirectory: String
        /// The environment every task starts with (an allow-list, not Sluice's own environment).
        public var environment: [String: String]
        /// Seconds between SIGTERM and SIGKILL when a task is cancelled or Sluice stops.
        public var gracePeriod: Double

        /// Creates settings.
        public init(
            parallelism: Int = 4, logDirectory: String, environment: [String: String] = Runner.defaultEnvironment, gracePeriod: Double = 5
        ) {
            self.parallelism = parallelism
            self.logDirectory = logDirectory
            self.environment = environment
            self.gracePeriod = gracePeriod
        }
    }

    /// The default task environment: a fixed PATH and locale, nothing inherited.
    public static let defaultEnvironment: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
    ]

    enum Event: Sendable {
        case wake
        case exited(pid: Int32, code: Int32)
        case killDeadline(pid: Int32)
        case stop
    }

    private let queue = EventQueue<Event>()
    private let loop: RunnerLoop
    private let finished = DispatchSemaphore(value: 0)
    private let lifecycle = Mutex<Lifecycle>(.idle)

    private enum Lifecycle { case idle, started, stopped }

    /// Creates a runner; nothing happens until `start()`.
    public init(store: any JobStore, configuration: Configuration) {
        self.loop = RunnerLoop(store: store, configuration: configuration, queue: self.queue)
    }

    /// Starts the scheduler thread. Tasks left `running` by a previous process are recorded as
    /// interrupted (and their process groups killed if they survived), then queued work resumes.
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

    /// Stops the runner: no new tasks start; running tasks get SIGTERM, then SIGKILL after the
    /// grace period, and are recorded as failed (interrupted). Returns when that is done.
    /// Calling it again, or before `start()`, does nothing.
    public func stop() {
        let wasRunning = self.lifecycle.withLock { state in
            defer { state = .stopped }
            return state == .started
        }
        guard wasRunning else { return }
        self.queue.post(.stop)
        self.finished.wait()
    }

    /// Where the log of `task` of job `jobID` is written.
    public static func logPath(logDirectory: String, jobID: Int64, task: String) -> String {
        "\(logDirectory)/\(jobID)/\(task).log"
    }
}

/// The runner thread's state.
final class RunnerLoop: @unchecked Sendable {
    // Confinement: every property is used only by the runner thread (`run()`), except `queue`,
    // which is thread-safe.
    private struct ActiveJob {
        var record: JobRecord
        var plan: JobPlan
        var cancelling: Bool
    }

    private let store: any JobStore
    private let configuration: Runner.Configuration
    private let queue: EventQueue<Runner.Event>
    private let logger = Logger(label: "runner")
    private var active: [Int64: ActiveJob] = [:]
    private var running: [Int32: (job: Int64, task: String)] = [:]
    private var stopping = false

    init(store: any JobStore, configuration: Runner.Configuration, queue: EventQueue<Runner.Event>) {
        self.store = store
        self.configuration = configuration
        self.queue = queue
    }

    func run() {
        self.refresh()
        self.schedule()
        while !self.stopping {
            var needsRefresh = false
            for event in self.queue.takeAll() {
                switch event {
                case .wake: needsRefresh = true
                case .exited(let pid, let code): self.processExited(pid: pid, code: code)
                case .killDeadline(let pid): if self.running[pid] != nil { TaskProcess.signalGroup(pid, SIGKILL) }
                case .stop: self.stopping = true
                }
            }
            if self.stopping { break }
            if needsRefresh { self.refresh() }
            self.schedule()
        }
        self.shutDown()
    }

    /// Loads jobs the runner does not hold yet and acts on new cancel requests.
    private func refresh() {
        let unfinished: [JobRecord]
        do { unfinished = try self.store.unfinishedJobs() } catch {
            self.logger.error("cannot list unfinished jobs", ["error": "\(error)"])
            return
        }
        for summary in unfinished {
            if self.active[summary.id] == nil {
                guard let job = self.load(summary.id) else { continue }
                self.active[summary.id] = job
            }
            if summary.cancelRequested && self.active[summary.id]?.cancelling == false {
                self.cancel(summary.id)
            }
        }
    }

    private func load(_ id: Int64) -> ActiveJob? {
        do {
            guard var record = try self.store.job(id: id) else { return nil }
            var plan = JobPlan(tasks: record.tasks)
            var changes: [TaskChange] = []
            // A task recorded as running that this process did not start was interrupted by a
            // crash or stop of an earlier Sluice process.
            for task in record.tasks where task.state == .running {
                if let pid = task.pid, let started = task.startedAt, ProcessIdentity.isTaskProcess(pid: pid, startedAt: started) {
                    TaskProcess.signalGroup(pid, SIGKILL)
                    self.logger.warning(
                        "killed task left running by a previous process", ["job.id": "\(id)", "task": task.name, "process.pid": "\(pid)"])
                }
                changes += plan.finish(task.name, as: .failed, message: "interrupted: Sluice stopped while the task was running")
            }
            if !changes.isEmpty {
                try self.store.record(jobID: id, changes: changes, jobState: plan.jobState)
                record = try self.store.job(id: id) ?? record
            }
            if plan.jobState.isTerminal {
                // Nothing left to run (e.g. every task was settled before a crash, or there are
                // none): make the stored job state agree so it stops being listed as unfinished.
                if record.state != plan.jobState { try self.store.record(jobID: id, changes: [], jobState: plan.jobState) }
                return nil
            }
            return ActiveJob(record: record, plan: plan, cancelling: false)
        } catch {
            self.logger.error("cannot load job", ["job.id": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    private func cancel(_ id: Int64) {
        guard var job = self.active[id] else { return }
        job.cancelling = true
        let changes = job.plan.cancelQueued()
        self.active[id] = job
        self.commit(id, changes)
        if job.plan.jobState.isTerminal { self.active[id] = nil }
        for (pid, owner) in self.running where owner.job == id {
            TaskProcess.signalGroup(pid, SIGTERM)
            self.scheduleKill(pid)
        }
        self.logger.info("job cancelling", ["job.id": "\(id)", "tasks.running": "\(job.plan.runningTasks.count)"])
    }

    private func scheduleKill(_ pid: Int32) {
        DispatchQueue.global().asyncAfter(deadline: .now() + self.configuration.gracePeriod) { [queue] in
            queue.post(.killDeadline(pid: pid))
        }
    }

    /// Starts ready tasks, oldest job first, while slots are free. A task that fails to spawn
    /// frees its slot at once (and may make others ready), so scheduling repeats until a pass
    /// starts nothing new or every slot is taken.
    private func schedule() {
        var again = true
        while again {
            again = false
            for id in self.active.keys.sorted() {
                let free = self.configuration.parallelism - self.running.count
                guard free > 0 else { return }
                guard var job = self.active[id], !job.cancelling else { continue }
                let names = job.plan.startReady(limit: free)
                guard !names.isEmpty else { continue }
                self.active[id] = job
                // Commit `running` first: if Sluice dies after this, recovery sees the task as
                // interrupted instead of silently running it a second time.
                guard self.commit(id, names.map { TaskChange(task: $0, state: .running) }) else { continue }
                for name in names where !self.launch(job.record, task: name) { again = true }
            }
        }
    }

    /// Spawns the task; returns false if it could not be started (it is then recorded as failed).
    private func launch(_ job: JobRecord, task name: String) -> Bool {
        guard let task = job.tasks.first(where: { $0.name == name }) else { return false }
        let directory = "\(self.configuration.logDirectory)/\(job.id)"
        mkdir(self.configuration.logDirectory, 0o750)
        mkdir(directory, 0o750)
        var environment = self.configuration.environment
        environment["SLUICE_JOB_ID"] = String(job.id)
        environment["SLUICE_PIPELINE"] = job.pipeline
        environment["SLUICE_TASK"] = name
        for (key, value) in job.params { environment["SLUICE_PARAM_" + key.uppercased()] = value }
        do {
            let pid = try TaskProcess.spawn(
                argv: task.argv, environment: environment, workingDirectory: job.workingDirectory,
                logPath: Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: job.id, task: name))
            self.running[pid] = (job.id, name)
            do { try self.store.recordProcess(jobID: job.id, task: name, pid: pid) } catch {
                self.logger.error("cannot record pid", ["job.id": "\(job.id)", "task": name, "error": "\(error)"])
            }
            let queue = self.queue
            let waiter = Thread {
                let code = TaskProcess.wait(pid)
                queue.post(.exited(pid: pid, code: code))
            }
            waiter.name = "wait-\(pid)"
            waiter.start()
            self.logger.info("task started", ["job.id": "\(job.id)", "task": name, "process.pid": "\(pid)"])
            return true
        } catch {
            let log = Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: job.id, task: name)
            _ = FileManager.default.createFile(atPath: log, contents: Data("sluice: \(error.reason)\n".utf8))
            self.finish(job.id, task: name, as: .failed, exitCode: 127, message: error.reason)
            return false
        }
    }

    private func processExited(pid: Int32, code: Int32) {
        guard let owner = self.running.removeValue(forKey: pid) else { return }
        // The task is over once its leader exits; background children it left in its process
        // group would otherwise outlive it unsupervised.
        TaskProcess.signalGroup(pid, SIGKILL)
        let cancelling = self.active[owner.job]?.cancelling ?? false
        let state: TaskState = cancelling ? .cancelled : (code == 0 ? .succeeded : .failed)
        var message: String? = nil
        if cancelling {
            message = "cancelled"
        } else if code > 128 {
            message = "killed by signal \(code - 128)"
        } else if code != 0 {
            message = "exited with status \(code)"
        }
        if self.stopping { message = "interrupted: Sluice stopped while the task was running" }
        self.finish(owner.job, task: owner.task, as: self.stopping ? .failed : state, exitCode: code, message: message)
        self.logger.info("task finished", ["job.id": "\(owner.job)", "task": owner.task, "state": state.rawValue, "exit": "\(code)"])
    }

    private func finish(_ id: Int64, task: String, as state: TaskState, exitCode: Int32?, message: String?) {
        guard var job = self.active[id] else { return }
        let changes = job.plan.finish(task, as: state, exitCode: exitCode, message: message)
        self.active[id] = job
        self.commit(id, changes)
        if job.plan.jobState.isTerminal {
            self.active[id] = nil
            self.logger.info("job finished", ["job.id": "\(id)", "state": job.plan.jobState.rawValue])
        }
    }

    @discardableResult
    private func commit(_ id: Int64, _ changes: [TaskChange]) -> Bool {
        guard !changes.isEmpty, let job = self.active[id] else { return true }
        do {
            try self.store.record(jobID: id, changes: changes, jobState: job.plan.jobState)
            return true
        } catch {
            self.logger.error("cannot record task changes", ["job.id": "\(id)", "error": "\(error)"])
            return false
        }
    }

    /// Stops every running task (SIGTERM, then SIGKILL after the grace period) and records it.
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
            for case .exited(let pid, let code) in events { self.processExited(pid: pid, code: code) }
        }
        self.logger.info("runner stopped")
    }
}
