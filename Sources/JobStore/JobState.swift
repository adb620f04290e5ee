/// The state of a job, derived from the states of its tasks.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job will never change again.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .queued, .running: false
        }
    }

    /// The job state implied by its tasks' states:
    /// - some task not finished: `queued` if none has started yet, else `running`;
    /// - all finished: `cancelled` if any was cancelled, else `failed` if any failed or was
    ///   skipped, else `succeeded`.
    public static func derived(from tasks: some Collection<TaskState>) -> JobState {
        if tasks.contains(where: { !$0.isTerminal }) {
            return tasks.allSatisfy({ $0 == .queued }) ? .queued : .running
        }
        if tasks.contains(.cancelled) { return .cancelled }
        if tasks.contains(where: { $0 == .failed || $0 == .skipped }) { return .failed }
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
