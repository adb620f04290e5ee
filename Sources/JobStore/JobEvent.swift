public import Foundation

/// A job's change of state, written by the store in the transaction that made it (an outbox):
/// what reactions to jobs (chained pipelines, notifications) read, each from its own cursor, so
/// none is lost to a crash between the change and the reaction.
public struct JobEvent: Sendable, Hashable {
    /// Increasing with every event (not necessarily without gaps).
    public var id: Int64
    /// The job.
    public var jobID: Int64
    /// Its pipeline.
    public var pipeline: String
    /// The state the job reached: `running`, `awaiting_approval`, or a terminal state.
    public var state: JobState
    /// When.
    public var at: Date

    /// Creates an event.
    public init(id: Int64, jobID: Int64, pipeline: String, state: JobState, at: Date) {
        self.id = id
        self.jobID = jobID
        self.pipeline = pipeline
        self.state = state
        self.at = at
    }

    /// The states a store writes an event for: when a job starts, waits for approvers, and ends.
    public static func isRecorded(_ state: JobState) -> Bool { state == .running || state == .awaitingApproval || state.isTerminal }
}
