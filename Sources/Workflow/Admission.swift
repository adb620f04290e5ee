import ByteStrings
import JobStore

/// Which waiting jobs the runner may take on now: pipeline concurrency limits, the "wait for
/// the same identity" duplicate rule, and draining. Pure: the runner hands it the store's list
/// of unfinished jobs and what it already holds.
struct Admission {
    /// A job as admission sees it.
    struct Candidate: Equatable {
        var id: Int64
        var pipeline: String
        var identity: String
        /// Whether it must wait while an earlier unfinished job, or one already taken on, has
        /// the same identity.
        var waitsForIdentity: Bool
        var cancelRequested: Bool
    }

    /// Most jobs of a pipeline running at once, by pipeline (compared as bytes); absent: unlimited.
    var concurrency: [String: Int]
    /// While draining no new job is admitted (jobs already admitted go on).
    var draining: Bool

    /// The jobs to admit, in order: each candidate not already `active` that its pipeline's
    /// limit (counting active jobs and those admitted before it) and the identity rule allow.
    /// A job with a cancel request is always admitted (only to record its cancellation), even
    /// while draining.
    func admit(_ unfinished: [Candidate], active: [Int64: String]) -> [Int64] {
        var perPipeline: [ByteString: Int] = [:]
        for pipeline in active.values { perPipeline[ByteString(pipeline), default: 0] += 1 }
        var earlierIdentities: Set<[ByteString]> = []
        // A job that waits for its identity and is already taken on blocks that identity whatever
        // its id: jobs that awaited approval start in the order they were approved, not
        // created, so a later one may be running when an earlier one becomes runnable. (A job
        // that does not wait, `on_duplicate: allow`, blocks only later jobs, as before.)
        let activeIdentities = Set(
            unfinished.filter { active[$0.id] != nil && $0.waitsForIdentity }.map { [ByteString($0.pipeline), ByteString($0.identity)] })
        var admitted: [Int64] = []
        for job in unfinished {
            let pipeline = ByteString(job.pipeline)
            let identityKey = [pipeline, ByteString(job.identity)]
            defer { earlierIdentities.insert(identityKey) }
            guard active[job.id] == nil else { continue }
            if !job.cancelRequested {
                if self.draining { continue }
                if let limit = self.concurrency[exactly: job.pipeline], perPipeline[pipeline, default: 0] >= limit { continue }
                if job.waitsForIdentity && (earlierIdentities.contains(identityKey) || activeIdentities.contains(identityKey)) {
                    continue
                }
            }
            admitted.append(job.id)
            perPipeline[pipeline, default: 0] += 1
        }
        return admitted
    }
}

extension Admission.Candidate {
    /// The candidate for a stored job.
    init(_ record: JobRecord) {
        self.init(
            id: record.id, pipeline: record.pipeline, identity: record.identity, waitsForIdentity: record.waitsForIdentity,
            cancelRequested: record.cancelRequested)
    }
}
