/// What `JobStore.submit` does with a job, decided from what the store finds inside the
/// submission's transaction. Every store applies this one rule, so a trigger gets the same answer
/// whichever database holds the jobs; a store only looks things up and carries the decision out.
///
/// The checks, in order:
/// 1. **Idempotency key** (if the job has one): a job of the same caller (user and identity
///    source) with the same key answers, as `existing(_, .idempotencyKey)` when its request
///    digest equals the job's byte for byte (two missing digests are equal), else
///    `refused(.idempotencyKeyReused)`. This comes before every other rule, so a retried
///    request gets the answer the first got.
/// 2. **Duplicates** (`return_existing` and `reject` only): the oldest unfinished job of the
///    pipeline with the job's identity answers (`existing(_, .duplicate)`) or refuses it
///    (`refused(.duplicate)`).
/// 3. **Queue bound** (if `maxUnfinished` is set): a pipeline with that many unfinished jobs
///    refuses it (`refused(.queueFull)`).
/// 4. Otherwise the job is inserted, waiting for its identity under `on_duplicate: queue`.
public enum SubmissionDecision: Sendable, Hashable {
    /// Insert the job (and the submission's audit record, with the new id).
    case insert(waitsForIdentity: Bool)
    /// Answer with the existing job `jobID`; store nothing.
    case existing(jobID: Int64, reason: Submission.Reason)
    /// Refuse the submission; store nothing.
    case refused(Submission.Refusal)

    /// A stored job with the submission's idempotency key, as the idempotency check needs it.
    public struct KeyedJob: Sendable, Hashable {
        /// The stored job's id.
        public var id: Int64
        /// The digest of the request that created it (nil if it had none).
        public var requestDigest: String?

        /// Creates the lookup's result.
        public init(id: Int64, requestDigest: String?) {
            self.id = id
            self.requestDigest = requestDigest
        }
    }

    /// Decides what to do with `job` under `rules`. Each lookup runs inside the store's
    /// transaction, and only if the decision needs it (in the order above), so a store pays only
    /// for the queries that matter.
    /// - Parameters:
    ///   - jobWithKey: the job whose `triggeredBy`, `identitySource` and `idempotencyKey` equal
    ///     the new job's (compared as bytes), given the key; nil if none. Called only when the
    ///     job has a key.
    ///   - oldestUnfinishedDuplicate: the id of the lowest-numbered queued or running job of the
    ///     job's pipeline with the job's identity (both compared as bytes); nil if none. Called
    ///     only under `return_existing` and `reject`.
    ///   - unfinishedCount: how many queued or running jobs the job's pipeline has. Called only
    ///     when `rules.maxUnfinished` is set.
    public static func decide(
        _ job: NewJob, rules: SubmissionRules, jobWithKey: (String) throws -> KeyedJob?, oldestUnfinishedDuplicate: () throws -> Int64?,
        unfinishedCount: () throws -> Int
    ) rethrows -> SubmissionDecision {
        if let key = job.idempotencyKey, let keyed = try jobWithKey(key) {
            // As bytes: `String ==` would call canonically equivalent digests the same request.
            let same = keyed.requestDigest.map { Array($0.utf8) } == job.requestDigest.map { Array($0.utf8) }
            return same
                ? .existing(jobID: keyed.id, reason: .idempotencyKey) : .refused(.idempotencyKeyReused(jobID: keyed.id))
        }
        if rules.onDuplicate == .returnExisting || rules.onDuplicate == .reject, let id = try oldestUnfinishedDuplicate() {
            return rules.onDuplicate == .reject ? .refused(.duplicate(jobID: id)) : .existing(jobID: id, reason: .duplicate)
        }
        if let limit = rules.maxUnfinished, try unfinishedCount() >= limit {
            return .refused(.queueFull(limit: limit))
        }
        return .insert(waitsForIdentity: rules.onDuplicate == .queue)
    }
}
