public import Foundation

/// How `JobStore.record` applies task changes and a job state, the same in every store (`now` is
/// the store's clock at the commit):
///
/// - a change to `running` counts an attempt (attempt + 1) and sets the pid, `startedAt = now` and
///   the message; it clears the exit code, finish time and retry time;
/// - a change to `queued` sets the message, the retry time and the exit code, and the finish
///   time from `taskFinishedAt` (a task queued for a retry keeps when its attempt ended);
/// - a change to a terminal state sets the exit code and the finish time from `taskFinishedAt`,
///   replaces the message only if the change has one, and clears the retry time;
/// - a change naming a task the job does not have fails the whole commit.
///
/// The job takes the given state; its start time is set once, at the first commit whose state
/// is not `queued` (`jobStartedAt`), and its finish time is `jobFinishedAt`.
public enum RecordRules {
    /// The finish time a task change stores: the change's own `finishedAt` if it has one (an
    /// outcome recorded while Sluice was down keeps its time), else `now`; nil for `running`,
    /// and for `queued` without a retry time.
    public static func taskFinishedAt(_ change: TaskChange, now: Date) -> Date? {
        switch change.state {
        case .running: nil
        case .queued: change.retryAt == nil ? nil : change.finishedAt ?? now
        case .succeeded, .failed, .skipped, .cancelled: change.finishedAt ?? now
        }
    }

    /// The start time a job in `state` gets if it has none yet: `now` unless it is still queued.
    public static func jobStartedAt(_ state: JobState, now: Date) -> Date? { state == .queued ? nil : now }

    /// The finish time a job in `state` stores: `now` if the state is terminal, else nil (a
    /// retried job is unfinished again).
    public static func jobFinishedAt(_ state: JobState, now: Date) -> Date? { state.isTerminal ? now : nil }
}
