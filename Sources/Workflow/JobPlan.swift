public import JobStore

/// The scheduling state of one job, as a pure state machine: events in (a task started,
/// finished, the job was cancelled), task changes out. No I/O, so it is tested without processes.
///
/// Readiness is tracked with a counter of unmet needs per task, so each event costs time
/// proportional to the edges it touches, not to the size of the job.
public struct JobPlan: Sendable {
    /// Task names in definition order.
    public let names: [String]
    private let index: [String: Int]
    private let dependents: [[Int]]
    private var unmet: [Int]
    private var states: [TaskState]
    private var readyQueue: [Int] = []
    private var readyHead = 0

    /// Builds the plan from stored tasks (which may be partly done when a job is resumed).
    /// Tasks whose needs have all succeeded and that are still queued become ready.
    public init(tasks: [TaskRecord]) {
        self.names = tasks.map(\.name)
        var index: [String: Int] = [:]
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
        for i in tasks.indices where self.states[i] == .queued && unmet[i] == 0 { self.readyQueue.append(i) }
    }

    /// The current state of `task`.
    public func state(of task: String) -> TaskState? { self.index[task].map { self.states[$0] } }

    /// All task states, in definition order.
    public var taskStates: [TaskState] { self.states }

    /// The job state these task states imply.
    public var jobState: JobState { JobState.derived(from: self.states) }

    /// Takes up to `limit` ready tasks, marks them running, and returns their names.
    public mutating func startReady(limit: Int) -> [String] {
        var started: [String] = []
        while started.count < limit && self.readyHead < self.readyQueue.count {
            let i = self.readyQueue[self.readyHead]
            self.readyHead += 1
            guard self.states[i] == .queued else { continue }
            self.states[i] = .running
            started.append(self.names[i])
        }
        if self.readyHead > 1024 && self.readyHead * 2 > self.readyQueue.count {
            self.readyQueue.removeFirst(self.readyHead)
            self.readyHead = 0
        }
        return started
    }

    /// Whether some task is ready to start.
    public var hasReady: Bool {
        self.readyQueue[self.readyHead...].contains { self.states[$0] == .queued }
    }

    /// Records that `task` ended in `state` and returns the resulting changes: the task itself,
    /// then downstream tasks that can no longer run (`skipped` after a failure or skip,
    /// `cancelled` after a cancellation). Newly ready tasks are queued internally.
    public mutating func finish(_ task: String, as state: TaskState, exitCode: Int32? = nil, message: String? = nil) -> [TaskChange] {
        precondition(state.isTerminal, "finish(\(task)) with non-terminal state \(state)")
        guard let i = self.index[task], !self.states[i].isTerminal else { return [] }
        self.states[i] = state
        var changes = [TaskChange(task: task, state: state, exitCode: exitCode, message: message)]
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
                self.states[d] = downstream
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
            self.states[i] = .cancelled
            changes.append(TaskChange(task: self.names[i], state: .cancelled, message: "job cancelled"))
        }
        return changes
    }

    /// Names of tasks currently running.
    public var runningTasks: [String] {
        self.states.indices.filter { self.states[$0] == .running }.map { self.names[$0] }
    }
}
