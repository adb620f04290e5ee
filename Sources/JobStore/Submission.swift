/// What to do when a trigger would start a job whose identity (pipeline plus canonical
/// significant parameters) matches a job that has not finished yet.
public enum DuplicatePolicy: String, Sendable, Hashable, CaseIterable {
    /// Answer with the unfinished job instead of creating one.
    case returnExisting = "return_existing"
    /// Create the job, but start it only after every earlier job with its identity finished.
    case queue
    /// Refuse the trigger (409).
    case reject
    /// Create and run the job regardless.
    case allow
}

/// The rules a submission is checked against, inside the transaction that creates the job.
public struct SubmissionRules: Sendable, Hashable {
    /// What to do about an unfinished job with the same identity.
    public var onDuplicate: DuplicatePolicy
    /// Most unfinished (queued or running) jobs the pipeline may have; nil: unbounded.
    public var maxUnfinished: Int?

    /// Creates rules.
    public init(onDuplicate: DuplicatePolicy = .allow, maxUnfinished: Int? = nil) {
        self.onDuplicate = onDuplicate
        self.maxUnfinished = maxUnfinished
    }
}

/// The outcome of `JobStore.submit`.
public enum Submission: Sendable, Hashable {
    /// A new job was committed.
    case created(JobRecord)
    /// An existing job answers the request: the same `Idempotency-Key` with the same request,
    /// or an unfinished duplicate under `return_existing`.
    case existing(JobRecord, Reason)
    /// The request was refused; nothing was stored.
    case refused(Refusal)

    /// Why an existing job was returned.
    public enum Reason: String, Sendable, Hashable {
        case idempotencyKey = "idempotency_key"
        case duplicate
    }

    /// Why a submission was refused.
    public enum Refusal: Sendable, Hashable {
        /// The pipeline already has `limit` unfinished jobs.
        case queueFull(limit: Int)
        /// An unfinished job with the same identity exists (`on_duplicate: reject`).
        case duplicate(jobID: Int64)
        /// The idempotency key was used before for a different request.
        case idempotencyKeyReused(jobID: Int64)
    }
}
