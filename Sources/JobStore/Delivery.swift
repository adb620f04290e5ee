public import Foundation

/// One notification of one job event to one webhook, kept in the store's `deliveries` table:
/// the durable outbox a notifier sends from and retries with backoff, and what admins read to
/// see whether a receiver got it.
///
/// A delivery is created once per event and webhook (the pair is unique), so an event handed out
/// twice (a crash, two hosts) still makes one delivery; every attempt of it sends the same body
/// under the same `id`, which receivers use to drop repeats.
public struct Delivery: Sendable, Hashable {
    /// The delivery id, sent with every attempt (`X-Sluice-Delivery`).
    public var id: Int64
    /// The job event it reports (`JobEvent.id`).
    public var eventID: Int64
    /// The job.
    public var jobID: Int64
    /// The job's pipeline.
    public var pipeline: String
    /// The configured webhook's name.
    public var webhook: String
    /// What happened, `job.started`, `job.succeeded`, ... (`X-Sluice-Event`).
    public var event: String
    /// The JSON body, the same bytes at every attempt.
    public var body: String
    /// Where it stands.
    public var state: DeliveryState
    /// Attempts made so far.
    public var attempts: Int
    /// When it was created.
    public var createdAt: Date
    /// When the next attempt is due (pending), or when the last one was made.
    public var nextAttemptAt: Date
    /// When the last attempt was made, if any.
    public var lastAttemptAt: Date?
    /// The HTTP status of the last answer, if the receiver answered.
    public var lastStatus: Int?
    /// Why the last attempt failed (no answer, or not 2xx), if it did.
    public var lastError: String?

    /// Creates a delivery as read from a store.
    public init(
        id: Int64, eventID: Int64, jobID: Int64, pipeline: String, webhook: String, event: String, body: String,
        state: DeliveryState, attempts: Int, createdAt: Date, nextAttemptAt: Date, lastAttemptAt: Date?, lastStatus: Int?,
        lastError: String?
    ) {
        self.id = id
        self.eventID = eventID
        self.jobID = jobID
        self.pipeline = pipeline
        self.webhook = webhook
        self.event = event
        self.body = body
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
    }
}

/// Where a delivery stands.
public enum DeliveryState: String, Sendable, Hashable, CaseIterable {
    /// Not yet accepted by the receiver; an attempt is due at `nextAttemptAt`.
    case pending
    /// The receiver answered 2xx.
    case delivered
    /// Given up after the last allowed attempt (an admin may ask for another).
    case failed
}

/// A delivery to create (`JobStore.enqueueDeliveries`).
public struct NewDelivery: Sendable, Hashable {
    /// The job event it reports.
    public var eventID: Int64
    /// The job.
    public var jobID: Int64
    /// The job's pipeline.
    public var pipeline: String
    /// The webhook's name.
    public var webhook: String
    /// What happened (`job.succeeded`, ...).
    public var event: String
    /// The JSON body.
    public var body: String

    /// Creates a delivery to enqueue.
    public init(eventID: Int64, jobID: Int64, pipeline: String, webhook: String, event: String, body: String) {
        self.eventID = eventID
        self.jobID = jobID
        self.pipeline = pipeline
        self.webhook = webhook
        self.event = event
        self.body = body
    }
}

/// The outcome of one attempt (`JobStore.recordDeliveryAttempt`).
public struct DeliveryAttempt: Sendable, Hashable {
    /// What the delivery becomes.
    public enum Next: Sendable, Hashable {
        /// Delivered: the receiver answered 2xx.
        case delivered
        /// Another attempt at this time.
        case retry(at: Date)
        /// Given up.
        case failed
    }

    /// When the attempt was made.
    public var at: Date
    /// The receiver's HTTP status, if it answered.
    public var status: Int?
    /// Why it failed, if it did (at most 500 bytes are kept).
    public var error: String?
    /// What comes next.
    public var next: Next

    /// Creates an outcome.
    public init(at: Date, status: Int?, error: String?, next: Next) {
        self.at = at
        self.status = status
        self.error = error
        self.next = next
    }

    /// The state and next-attempt time this attempt leaves its delivery in.
    public var stateAndNext: (DeliveryState, Date) {
        switch self.next {
        case .delivered: (.delivered, self.at)
        case .retry(let at): (.pending, at)
        case .failed: (.failed, self.at)
        }
    }

    /// `error` as a store keeps it: at most 500 bytes, cut at a character boundary.
    public var keptError: String? {
        guard let error, error.utf8.count > 500 else { return self.error }
        var cut = ""
        for character in error {
            if cut.utf8.count + character.utf8.count > 500 { break }
            cut.append(character)
        }
        return cut
    }
}

/// Which deliveries to list, newest first.
public struct DeliveryQuery: Sendable {
    /// Only deliveries in this state.
    public var state: DeliveryState?
    /// Only deliveries of this pipeline (compared as bytes).
    public var pipeline: String?
    /// Only deliveries of this job.
    public var jobID: Int64?
    /// Only deliveries with an id below this (paging).
    public var beforeID: Int64?
    /// At most this many (clamped to 1...500).
    public var limit: Int

    /// Creates a query.
    public init(state: DeliveryState? = nil, pipeline: String? = nil, jobID: Int64? = nil, beforeID: Int64? = nil, limit: Int = 50) {
        self.state = state
        self.pipeline = pipeline
        self.jobID = jobID
        self.beforeID = beforeID
        self.limit = limit
    }

    /// `limit` as a store applies it.
    public var clampedLimit: Int { max(1, min(self.limit, 500)) }
}
