public import Foundation

/// What a job that waits for approvers needs, fixed when it is triggered (a later change of the
/// pipeline's `approval` does not change it).
public struct ApprovalRequirement: Sendable, Hashable {
    /// Distinct approvals needed.
    public var required: Int
    /// When the job expires if it has not got them.
    public var expiresAt: Date

    /// Creates a requirement.
    public init(required: Int, expiresAt: Date) {
        self.required = required
        self.expiresAt = StoredTime.rounded(expiresAt)
    }
}

extension ApprovalRequirement {
    /// A job row's approval columns (`approvals_required`, `approval_expires_at` in Unix ms) as
    /// a requirement; nil when the job needed none.
    /// - Throws: `JobStoreError` for a count below 1 or a count without an expiry.
    public static func stored(required: Int64?, expiresAt: Int64?) throws -> ApprovalRequirement? {
        guard let required else { return nil }
        guard required >= 1, required <= Int64(Int32.max), let expiresAt else { throw JobStoreError("malformed approval requirement") }
        return ApprovalRequirement(required: Int(required), expiresAt: StoredTime.date(milliseconds: expiresAt))
    }
}

extension JobRecord {
    /// Whether the job needed no approval or got every approval it needed (from `approvals`,
    /// which `job(id:)` reads; a store's retry checks the same in SQL, `JobRetry.approvedSQL`).
    public var wasApproved: Bool {
        guard let approval = self.approval else { return true }
        return self.approvals.filter(\.approves).count >= approval.required
    }
}

/// One person's decision about a job awaiting approval; one per person and job (by bytes).
public struct ApprovalDecision: Sendable, Hashable {
    /// Who decided (the principal's user name).
    public var approver: String
    /// Through which identity source.
    public var identitySource: String
    /// Approved (true) or rejected.
    public var approves: Bool
    /// Why, in the approver's words (possibly empty).
    public var comment: String
    /// When.
    public var at: Date

    /// The longest comment kept, in bytes.
    public static let maxCommentBytes = 1000

    /// Creates a decision.
    public init(approver: String, identitySource: String, approves: Bool, comment: String, at: Date) {
        self.approver = approver
        self.identitySource = identitySource
        self.approves = approves
        self.comment = comment
        self.at = StoredTime.rounded(at)
    }
}

/// What became of a decision handed to the store.
public enum ApprovalOutcome: Sendable {
    /// Recorded: the job afterwards (still awaiting, `queued` with the last approval needed, or
    /// `rejected`), with its decisions.
    case recorded(JobRecord)
    /// The job does not wait for approval (any more): nothing was recorded.
    case notAwaiting(JobRecord)
    /// This person has decided about this job before: nothing was recorded.
    case alreadyDecided(JobRecord)
    /// No such job.
    case notFound
}

/// What a store's decision transaction found (`JobStore.decideApproval`), before the job is
/// read back for the answer.
public enum ApprovalStep: Sendable {
    case recorded, notAwaiting, alreadyDecided, notFound

    /// The answer, with `job` as read after the transaction (nil: it is gone).
    public func outcome(_ job: JobRecord?) -> ApprovalOutcome {
        guard let job else { return .notFound }
        switch self {
        case .recorded: return .recorded(job)
        case .notAwaiting: return .notAwaiting(job)
        case .alreadyDecided: return .alreadyDecided(job)
        case .notFound: return .notFound
        }
    }
}

/// The messages a store gives the tasks of a job that ends without running.
public enum ApprovalEnd {
    /// The tasks' message when an approver rejects the job.
    public static func rejected(by approver: String) -> String { "not run: rejected by \(approver)" }
    /// The tasks' message when the job expires.
    public static let expired = "not run: not approved in time"
    /// The tasks' message when the job is cancelled while it awaits approval.
    public static let cancelled = "not run: cancelled while awaiting approval"

    /// The audit record of a job found expired when someone decided about it: the decision's
    /// record turned into an expiry (no user: nobody decided that).
    public static func expiryRecord(from decision: AuditRecord, jobID: Int64) -> AuditRecord {
        var record = decision
        record.event = "expire"
        record.allowed = false
        record.user = nil
        record.identitySource = nil
        record.jobID = jobID
        record.reason = "not approved in time"
        record.requestID = nil
        record.clientAddress = nil
        return record
    }
}
