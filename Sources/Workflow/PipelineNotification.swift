public import JobStore

/// Which events of a pipeline's jobs are sent to which configured webhook (`notify`).
public struct PipelineNotification: Sendable, Hashable {
    /// The webhook's name (`webhooks.NAME`).
    public var webhook: String
    /// The events it is told about.
    public var events: Set<NotificationEvent>

    /// Creates a subscription.
    public init(webhook: String, events: Set<NotificationEvent>) {
        self.webhook = webhook
        self.events = events
    }
}

/// An event of a job that a webhook can be told about.
public enum NotificationEvent: String, Sendable, Hashable, CaseIterable {
    /// The job's first task started.
    case started
    /// The job ended with every task succeeded.
    case succeeded
    /// The job ended with a task failed or skipped.
    case failed
    /// The job was cancelled.
    case cancelled
    /// The job waits for approvers.
    case awaitingApproval = "awaiting_approval"
    /// An approver rejected the job.
    case rejected
    /// Nobody approved the job in time.
    case expired

    /// The events a subscription without `events` is told about: the job's end, and that it
    /// waits for approvers.
    public static let whenOmitted: Set<NotificationEvent> = [.succeeded, .failed, .cancelled, .awaitingApproval, .rejected, .expired]

    /// The event a job event stands for: `running` is `started`, a terminal state its own
    /// name; nil for a state no webhook is told about.
    public init?(_ state: JobState) {
        switch state {
        case .running: self = .started
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        case .awaitingApproval: self = .awaitingApproval
        case .rejected: self = .rejected
        case .expired: self = .expired
        case .queued: return nil
        }
    }

    /// The name sent in `X-Sluice-Event` and the body's `event`: `job.started`, ...
    public var wireName: String { "job." + self.rawValue }

}
