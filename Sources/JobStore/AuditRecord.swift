public import Foundation

/// One audit log entry: who did (or tried) what, and what was decided. Never holds a secret:
/// no token, password or assertion, only names, ids and reasons.
public struct AuditRecord: Sendable, Hashable {
    /// The record id (increasing); 0 before it is stored.
    public var id: Int64
    /// When.
    public var at: Date
    /// What happened: `authenticate`, `trigger`, `cancel`, `retry`, `view`, `logs`, `reload`...
    public var event: String
    /// Whether it was allowed.
    public var allowed: Bool
    /// The caller, if known.
    public var user: String?
    /// The identity source, if known.
    public var identitySource: String?
    /// The pipeline concerned, if any.
    public var pipeline: String?
    /// The job concerned, if any.
    public var jobID: Int64?
    /// Why (the granting rule, or the denial reason).
    public var reason: String
    /// The request id (also in the response's `X-Request-Id` and the log).
    public var requestID: String?
    /// The client address (`REMOTE_ADDR`).
    public var clientAddress: String?
    /// The hash of the configuration that made the decision.
    public var configHash: String

    /// Creates a record.
    public init(
        id: Int64 = 0, at: Date, event: String, allowed: Bool, user: String?, identitySource: String?, pipeline: String?,
        jobID: Int64?, reason: String, requestID: String?, clientAddress: String?, configHash: String
    ) {
        self.id = id
        self.at = at
        self.event = event
        self.allowed = allowed
        self.user = user
        self.identitySource = identitySource
        self.pipeline = pipeline
        self.jobID = jobID
        self.reason = reason
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.configHash = configHash
    }
}

/// Which audit records to list.
public struct AuditQuery: Sendable {
    /// Only records about these pipelines; `includeUnscoped` adds records about no pipeline.
    public var pipelines: Set<String>?
    /// Whether to include records about no pipeline.
    public var includeUnscoped: Bool
    /// Only this user.
    public var user: String?
    /// Only this event.
    public var event: String?
    /// Only allowed (true) or denied (false) decisions.
    public var allowed: Bool?
    /// Only records with an id below this (cursor).
    public var beforeID: Int64?
    /// Only records at or after this time.
    public var since: Date?
    /// At most this many, newest first.
    public var limit: Int

    /// The most records one query returns, whatever its `limit`.
    public static let maxLimit = 10_000

    /// `limit` as a store applies it: between 0 and `maxLimit`.
    public var clampedLimit: Int { max(0, min(self.limit, Self.maxLimit)) }

    /// Whether the scope admits no record: an empty set of pipelines without unscoped records (a
    /// store answers `[]` without asking its database).
    public var matchesNothing: Bool { self.pipelines?.isEmpty == true && !self.includeUnscoped }

    /// Creates a query.
    public init(
        pipelines: Set<String>? = nil, includeUnscoped: Bool = true, user: String? = nil, event: String? = nil, allowed: Bool? = nil,
        beforeID: Int64? = nil, since: Date? = nil, limit: Int = 100
    ) {
        self.pipelines = pipelines
        self.includeUnscoped = includeUnscoped
        self.user = user
        self.event = event
        self.allowed = allowed
        self.beforeID = beforeID
        self.since = since
        self.limit = limit
    }
}
