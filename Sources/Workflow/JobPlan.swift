public import Foundation
public import JobStore

/// The scheduling state of one job, as a pure state machine: events in (a task started,
/// finished, was queued for a retry, the job was cancelled), task changes out. No I/O and no
/// clock, so it is tested without processes.
///
/// Readiness is tracked with a counter of unmet needs per task and the job state with counts of
/// tasks per state, so each event costs time proportional to the edges it touches, never to the
/// size of the job: a 100,000-task job is scheduled in linear time overall.
///
/// Tasks are addressed by index (definition order); the name-based methods are conveniences.
public struct JobPlan: Sendable {
    /// Task names in definition order.
    public let names: [String]
    private let index: [String: Int]
    private let dependents: [[Int]]
    private var unmet: [Int]
    private var states: [TaskState]
    private var counts = TaskStateCounts()
    private var readyQueue: [Int] = []
    private var readyHead = 0
    /// Whether any task has ever started (so a job waiting only for retries reads `running`).
    private var hasStarted: Bool

    /// Builds the plan from stored tasks (which may be partly done when a job is resumed).
    /// Tasks whose needs have all succeeded and that are still queued become ready, except those
    /// waiting for a retry (`retryAt` set): the caller makes them ready when their time comes.
    public init(tasks: [TaskRecord]) {
        self.names = tasks.map(\.name)
        var index: [String: Int] = [:]
        index.reserveCapacity(tasks.count)
        for (i, t) in tasks.enumerated() { index[t.name] = i }
        self.index = index
        var dependents = Array(repeating: [Int](), count: tasks.count)
        var unmet = Array(repeating: 0, count: tasks.count)
        for (i, t) in tasks.enumerated() {
            for need in t.needs {
                guard let j = index[need] else { continue }
                dependents[j].append(i)
                if tasks[j].state != .succeeded { unmet[i] += 1 }
            }
        }
        self.dependents = dependents
        self.unmet = unmet
        self.states = tasks.map(\.state)
        self.hasStarted = tasks.contains { $0.attempt > 0 || $0.state != .queued }
        for state in self.states { self.counts.add(state) }
        for i in tasks.indices where self.states[i] == .queued && unmet[i] == 0 && tasks[i].retryAt == nil {
            self.readyQueue.append(i)
        }
    }

    /// The index of `task`, if the job has it.
    public func index(of task: String) -> Int? { self.index[task] }

    /// The current state of `task`.
    public func state(of task: String) -> TaskState? { self.index[task].map { self.states[$0] } }

    /// The current state of the task at `index`.
    public func state(at index: Int) -> TaskState { self.states[index] }

    /// All task states, in definition order.
    public var taskStates: [TaskState] { self.states }

    /// The job state these task states imply (O(1)). A job some of whose tasks have run is
    /// `running` even while its unfinished tasks all wait (for a retry, a slot, a resource).
    public var jobState: JobState {
        let state = JobState.derived(from: self.counts)
        return state == .queued && self.hasStarted ? .running : state
    }

    /// The next ready task, without taking it; nil when none is ready.
    public mutating func nextReady() -> Int? {
        while self.readyHead < self.readyQueue.count {
            let i = self.readyQueue[self.readyHead]
            if self.states[i] == .queued && self.unmet[i] == 0 { return i }
            self.readyHead += 1
        }
        self.compactReadyQueue()
        return nil
    }

    /// Takes the ready task `nextReady()` returned off the ready queue (it stays `queued` until
    /// `markRunning` or `finish`; `makeReady` puts it back).
    public mutating func takeReady() {
        if self.readyHead < self.readyQueue.count { self.readyHead += 1 }
        self.compactReadyQueue()
    }

    private mutating func compactReadyQueue() {
        if self.readyHead > 1024 && self.readyHead * 2 > self.readyQueue.count {
            self.readyQueue.removeFirst(self.readyHead)
            self.readyHead = 0
        }
    }

    /// Makes a queued task whose needs have succeeded ready again (after a retry delay, or when
    /// a resource it waited for was freed). Does nothing for tasks in any other state.
    public mutating func makeReady(_ i: Int) {
        guard self.states[i] == .queued && self.unmet[i] == 0 else { return }
        self.readyQueue.append(i)
    }

    /// Marks the queued task at `i` as running.
    public mutating func markRunning(_ i: Int) {
        precondition(self.states[i] == .queued, "markRunning(\(self.names[i])) in state \(self.states[i])")
        self.hasStarted = true
        self.set(i, .running)
    }

    /// Puts a running task back to `queued` to be tried again at `retryAt` (the caller calls
    /// `makeReady` then). Returns the change to record.
    public mutating func queueRetry(_ i: Int, exitCode: Int32?, message: String, retryAt: Date) -> TaskChange {
        self.set(i, .queued)
        return TaskChange(task: self.names[i], state: .queued, exitCode: exitCode, message: message, retryAt: retryAt)
    }

    /// Takes up to `limit` ready tasks, marks them running, and returns their names.
    public mutating func startReady(limit: Int) -> [String] {
        var started: [String] = []
        while started.count < limit, let i = self.nextReady() {
            self.takeReady()
            self.markRunning(i)
            started.append(self.names[i])
        }
        return started
    }

    /// Whether some task is ready to start.
    public var hasReady: Bool {
        self.readyQueue[self.readyHead...].contains { self.states[$0] == .queued && self.unmet[$0] == 0 }
    }

    /// Records that `task` ended in `state`; see `finish(_:as:exitCode:message:)` by index.
    public mutating func finish(_ task: String, as state: TaskState, exitCode: Int32? = nil, message: String? = nil) -> [TaskChange] {
        guard let i = self.index[task] else { return [] }
        return self.finish(i, as: state, exitCode: exitCode, message: message)
    }

    /// Records that the task at `i` ended in `state` and returns the resulting changes: the task
    /// itself, then downstream tasks that can no longer run (`skipped` after a failure or skip,
    /// `cancelled` after a cancellation). Newly ready tasks are queued internally. Finishing a
    /// task that already finished changes nothing.
    public mutating func finish(_ i: Int, as state: TaskState, exitCode: Int32? = nil, message: String? = nil) -> [TaskChange] {
        precondition(state.isTerminal, "finish(\(self.names[i])) with non-terminal state \(state)")
        guard !self.states[i].isTerminal else { return [] }
        self.hasStarted = true
        self.set(i, state)
        var changes = [TaskChange(task: self.names[i], state: state, exitCode: exitCode, message: message)]
        if state == .succeeded {
            for d in self.dependents[i] {
                self.unmet[d] -= 1
                if self.unmet[d] == 0 && self.states[d] == .queued { self.readyQueue.append(d) }
            }
            return changes
        }
        let downstream: TaskState = state == .cancelled ? .cancelled : .skipped
        var frontier = [i]
        while let j = frontier.popLast() {
            for d in self.dependents[j] where self.states[d] == .queued {
                self.set(d, downstream)
                let note = downstream == .skipped ? "upstream task \(self.names[j]) \(self.states[j].rawValue)" : "job cancelled"
                changes.append(TaskChange(task: self.names[d], state: downstream, message: note))
                frontier.append(d)
            }
        }
        return changes
    }

    /// Cancels every task that has not started; running tasks are left to the caller to stop.
    public mutating func cancelQueued() -> [TaskChange] {
        var changes: [TaskChange] = []
        for i in self.states.indices where self.states[i] == .queued {
            self.set(i, .cancelled)
            changes.append(TaskChange(task: self.names[i], state: .cancelled, message: "job cancelled"))
        }
        return changes
    }

    /// Fails every task that has not started with `message` (e.g. a job that cannot run at all).
    public mutating func failQueued(message: String) -> [TaskChange] {
        var changes: [TaskChange] = []
        for i in self.states.indices where self.states[i] == .queued {
            self.set(i, .failed)
            changes.append(TaskChange(task: self.names[i], state: .failed, message: message))
        }
        return changes
    }

    /// Names of tasks currently running.
    public var runningTasks: [String] {
        self.states.indices.filter { self.states[$0] == .running }.map { self.names[$0] }
    }

    private mutating func set(_ i: Int, _ state: TaskState) {
        self.counts.move(from: self.states[i], to: state)
        self.states[i] = state
    }
}
