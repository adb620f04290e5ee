public import Foundation

/// What tells two representations of a job apart once it has finished: its state and its start
/// and finish times. A finished job changes only by a retry, which makes it queued again (a new
/// state), and finishes it again later (a new finish time); so an unchanged stamp of a finished
/// job means unchanged tasks too. Read without the tasks (`JobStore.jobStamp(id:)`).
public struct JobStamp: Sendable, Hashable {
    /// The job's state.
    public var state: JobState
    /// When it started, if it did.
    public var startedAt: Date?
    /// When it finished, if it did.
    public var finishedAt: Date?

    /// Creates a stamp.
    public init(state: JobState, startedAt: Date?, finishedAt: Date?) {
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// The stamp of `record`.
    public init(of record: JobRecord) {
        self.init(state: record.state, startedAt: record.startedAt, finishedAt: record.finishedAt)
    }
}
