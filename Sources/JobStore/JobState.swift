/// The state of a job, derived from the states of its tasks.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled
    /// Waiting for approvers (`PipelineApproval`): holds no slot, runs nothing, and becomes
    /// `queued` with the last approval needed, or ends `rejected` or `expired`.
    case awaitingApproval = "awaiting_approval"
    /// An approver rejected it; nothing ran.
    case rejected
    /// Nobody approved it in time; nothing ran.
    case expired

    /// Whether the job will never change again.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .rejected, .expired: true
        case .queued, .running, .awaitingApproval: false
        }
    }

    /// The job state implied by its tasks' states:
    /// - some task not finished: `queued` if none has started yet, else `running`;
    /// - all finished: `cancelled` if any was cancelled, else `failed` if any failed or was
    ///   skipped, else `succeeded`.
    public static func derived(from tasks: some Collection<TaskState>) -> JobState {
        var counts = TaskStateCounts()
        for state in tasks { counts.add(state) }
        return self.derived(from: counts)
    }

    /// The same rule as `derived(from:)`, from counts kept up to date incrementally (O(1)).
    public static func derived(from counts: TaskStateCounts) -> JobState {
        if counts.unfinished > 0 { return counts.total == counts[.queued] ? .queued : .running }
        if counts[.cancelled] > 0 { return .cancelled }
        if counts[.failed] > 0 || counts[.skipped] > 0 { return .failed }
        return .succeeded
    }
}

/// The state of one task of a job.
public enum TaskState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for its dependencies or for a free slot.
    case queued
    /// Its process is running.
    case running
    /// Its process exited with status 0.
    case succeeded
    /// Its process failed (non-zero exit, signal, or could not be started).
    case failed
    /// Not run because a task it needs failed or was skipped.
    case skipped
    /// Not run, or stopped, because the job was cancelled.
    case cancelled

    /// Whether the task will never change again.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .skipped, .cancelled: true
        }
    }
}

/// How many tasks are in each state.
public struct TaskStateCounts: Sendable, Hashable {
    private var counts = [Int](repeating: 0, count: TaskState.allCases.count)

    /// No tasks.
    public init() {}

    /// The number of tasks in `state`.
    public subscript(state: TaskState) -> Int { self.counts[state.index] }

    /// All tasks.
    public var total: Int { self.counts.reduce(0, +) }

    /// Tasks not in a terminal state.
    public var unfinished: Int { self[.queued] + self[.running] }

    /// Counts one more task in `state`.
    public mutating func add(_ state: TaskState) { self.counts[state.index] += 1 }

    /// Moves one task from `old` to `new`.
    public mutating func move(from old: TaskState, to new: TaskState) {
        self.counts[old.index] -= 1
        self.counts[new.index] += 1
    }
}

extension TaskState {
    fileprivate var index: Int {
        switch self {
        case .queued: 0
        case .running: 1
        case .succeeded: 2
        case .failed: 3
        case .skipped: 4
        case .cancelled: 5
        }
    }
}
