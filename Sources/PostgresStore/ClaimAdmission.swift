import JobStore

/// The part of a claim's admission rules that counts: which of the candidate jobs a claim takes,
/// given how many unfinished jobs each limited pipeline already has owned (over all hosts).
/// The same rules `Admission` applies on one host (Sources/Workflow/Admission.swift), fed one
/// candidate at a time in id order:
/// - a job with a cancel request is always admitted (only so its owner records the
///   cancellation), even while draining, and does not count against `limit`; it does count in
///   its pipeline, as `Admission` counts it;
/// - otherwise nothing while draining, at most `limit` jobs, and no job of a pipeline whose
///   count (owned plus admitted so far) has reached its limit.
///
/// The wait-for-identity rule needs every earlier unfinished job, owned or not, which only the
/// database has: the claim's SQL leaves such jobs out of the candidates (see
/// `PostgresJobStore.claim`).
///
/// Pipelines are compared as bytes: counts and limits are keyed by UTF-8 bytes, never by
/// `String` (whose `==` and hashing treat "K" and U+212A KELVIN SIGN as one name).
struct ClaimAdmission {
    /// A pipeline's limit, with its name as the request spelled it (for SQL).
    private struct Limit {
        var name: String
        var limit: Int
    }

    private let draining: Bool
    /// Jobs without a cancel request that may still be admitted.
    private var remaining: Int
    private let limits: [[UInt8]: Limit]
    /// Unfinished owned jobs per pipeline, admitted ones included (limited pipelines only).
    private var counts: [[UInt8]: Int]

    /// Starts a claim's admission.
    /// - Parameters:
    ///   - request: the host's request (limit, concurrency limits, draining).
    ///   - owned: the unfinished jobs owned by any host now, by pipeline bytes; only limited
    ///     pipelines need to be there.
    init(_ request: ClaimRequest, owned: [[UInt8]: Int]) {
        self.draining = request.draining
        self.remaining = max(0, request.limit)
        var limits: [[UInt8]: Limit] = [:]
        // The request's dictionary has String keys, so it holds at most one of two canonically
        // equivalent spellings; each key is taken by its own bytes.
        for (name, limit) in request.concurrency { limits[Array(name.utf8)] = Limit(name: name, limit: max(0, limit)) }
        self.limits = limits
        self.counts = owned
    }

    /// Whether only jobs with a cancel request can still be admitted (draining, or `limit`
    /// reached): the claim then asks the database for those only.
    var onlyCancelRequested: Bool { self.draining || self.remaining == 0 }

    /// The limited pipelines that are full now, as the request spelled them: the claim leaves
    /// their jobs (without a cancel request) out of the candidates it asks for next.
    var fullPipelines: [String] {
        self.limits.compactMap { key, limit in self.counts[key, default: 0] >= limit.limit ? limit.name : nil }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Decides on the next candidate (in id order), and counts it if admitted.
    mutating func admit(pipeline: String, cancelRequested: Bool) -> Bool {
        let key = Array(pipeline.utf8)
        if !cancelRequested {
            if self.onlyCancelRequested { return false }
            if let limit = self.limits[key], self.counts[key, default: 0] >= limit.limit { return false }
            self.remaining -= 1
        }
        if self.limits[key] != nil { self.counts[key, default: 0] += 1 }
        return true
    }
}
