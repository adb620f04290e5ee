/// What `JobStore.retry` does to a job, the same in every store: a failed or cancelled job gets
/// the tasks that did not succeed back in the queue, keeping their attempt counts, and its cancel
/// request is cleared.
public enum JobRetry {
    /// The task states a retry puts back to `queued`; their exit code, pid, finish time and retry
    /// time are cleared and their message becomes `message`. Succeeded tasks are left alone.
    public static let requeuedTaskStates: Set<TaskState> = [.failed, .skipped, .cancelled]

    /// The message of every re-queued task.
    public static let message = "retry requested"

    /// Whether a job in `state` may be retried: only failed and cancelled ones.
    public static func isAllowed(from state: JobState) -> Bool { state == .failed || state == .cancelled }

    /// The SQL condition, on a row of `jobs`, that a job which needed approval got it: a job is
    /// never retried otherwise (one cancelled while it awaited approval would run unapproved).
    /// `suffix` completes `approvals.approves` as a truth test in the store's SQL (` = 1` in
    /// SQLite, empty in PostgreSQL).
    public static func approvedSQL(trueIs suffix: String) -> String {
        "(approvals_required IS NULL OR approvals_required <= (SELECT count(*) FROM approvals WHERE approvals.job_id = jobs.id AND approvals.approves\(suffix)))"
    }

    /// The job's state after the retry: `running` if one of its tasks had succeeded (the run goes
    /// on from there), else `queued`. This is `JobState.derived(from:)` of the retried tasks.
    public static func jobState(anyTaskSucceeded: Bool) -> JobState { anyTaskSucceeded ? .running : .queued }
}
