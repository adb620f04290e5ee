import Foundation
import JobStore
import Testing

/// `SubmissionDecision`: the rule every store applies inside `submit`, checked without a store.
@Suite struct SubmissionDecisionTests {
    /// What a store would find, and which lookups the decision asked for.
    private final class Findings {
        var keyed: SubmissionDecision.KeyedJob?
        var duplicate: Int64?
        var unfinished = 0
        var asked: [String] = []

        init(keyed: SubmissionDecision.KeyedJob? = nil, duplicate: Int64? = nil, unfinished: Int = 0) {
            self.keyed = keyed
            self.duplicate = duplicate
            self.unfinished = unfinished
        }

        func decide(_ job: NewJob, _ rules: SubmissionRules) -> SubmissionDecision {
            SubmissionDecision.decide(
                job, rules: rules,
                jobWithKey: { key in
                    self.asked.append("key \(key)")
                    return self.keyed
                },
                oldestUnfinishedDuplicate: {
                    self.asked.append("duplicate")
                    return self.duplicate
                },
                unfinishedCount: {
                    self.asked.append("count")
                    return self.unfinished
                })
        }
    }

    private static func job(key: String? = nil, digest: String? = nil) -> NewJob {
        var job = NewJob(
            pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/", tasks: [],
            identity: "x")
        job.idempotencyKey = key
        job.requestDigest = digest
        return job
    }

    @Test("Nothing found: every policy inserts, and only queue waits for its identity", arguments: DuplicatePolicy.allCases)
    func insertWhenNothingFound(policy: DuplicatePolicy) {
        let findings = Findings()
        #expect(findings.decide(Self.job(), SubmissionRules(onDuplicate: policy)) == .insert(waitsForIdentity: policy == .queue))
        #expect(
            findings.decide(Self.job(), SubmissionRules(onDuplicate: policy, maxUnfinished: 1))
                == .insert(waitsForIdentity: policy == .queue))
    }

    @Test("A job with the same key and digest answers; a different or missing digest is refused; both missing is the same request")
    func idempotencyKey() {
        let same = Findings(keyed: .init(id: 7, requestDigest: "d1"))
        #expect(same.decide(Self.job(key: "k", digest: "d1"), SubmissionRules()) == .existing(jobID: 7, reason: .idempotencyKey))
        #expect(same.decide(Self.job(key: "k", digest: "d2"), SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: 7)))
        #expect(same.decide(Self.job(key: "k", digest: nil), SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: 7)))
        let undigested = Findings(keyed: .init(id: 8, requestDigest: nil))
        #expect(undigested.decide(Self.job(key: "k", digest: nil), SubmissionRules()) == .existing(jobID: 8, reason: .idempotencyKey))
        #expect(undigested.decide(Self.job(key: "k", digest: "d"), SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: 8)))
        // Digests are compared as bytes: a canonically equivalent one is another request.
        let kelvin = Findings(keyed: .init(id: 9, requestDigest: "\u{212A}"))
        #expect(kelvin.decide(Self.job(key: "k", digest: "K"), SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: 9)))
        #expect(kelvin.decide(Self.job(key: "k", digest: "\u{212A}"), SubmissionRules()) == .existing(jobID: 9, reason: .idempotencyKey))
    }

    @Test("The idempotency key comes first: it answers before a duplicate or a full queue is even looked up")
    func keyFirst() {
        let findings = Findings(keyed: .init(id: 7, requestDigest: "d"), duplicate: 3, unfinished: 100)
        let rules = SubmissionRules(onDuplicate: .reject, maxUnfinished: 1)
        #expect(findings.decide(Self.job(key: "k", digest: "d"), rules) == .existing(jobID: 7, reason: .idempotencyKey))
        #expect(findings.asked == ["key k"])
        // A key nobody used yet falls through to the other rules.
        let unused = Findings(duplicate: 3, unfinished: 100)
        #expect(unused.decide(Self.job(key: "k", digest: "d"), rules) == .refused(.duplicate(jobID: 3)))
        #expect(unused.asked == ["key k", "duplicate"])
    }

    @Test("Without a key, the key is never looked up")
    func noKeyNoLookup() {
        let findings = Findings(keyed: .init(id: 7, requestDigest: nil))
        #expect(findings.decide(Self.job(), SubmissionRules()) == .insert(waitsForIdentity: false))
        #expect(findings.asked.isEmpty)
    }

    @Test("An unfinished duplicate: return_existing answers with it, reject refuses, queue and allow never look")
    func duplicates() {
        for policy in DuplicatePolicy.allCases {
            let findings = Findings(duplicate: 3)
            let decision = findings.decide(Self.job(), SubmissionRules(onDuplicate: policy))
            switch policy {
            case .returnExisting:
                #expect(decision == .existing(jobID: 3, reason: .duplicate))
                #expect(findings.asked == ["duplicate"])
            case .reject:
                #expect(decision == .refused(.duplicate(jobID: 3)))
                #expect(findings.asked == ["duplicate"])
            case .queue, .allow:
                #expect(decision == .insert(waitsForIdentity: policy == .queue))
                #expect(findings.asked.isEmpty, "\(policy)")
            }
        }
    }

    @Test("A duplicate answers before the queue bound is checked")
    func duplicateBeforeBound() {
        let findings = Findings(duplicate: 3, unfinished: 5)
        #expect(
            findings.decide(Self.job(), SubmissionRules(onDuplicate: .returnExisting, maxUnfinished: 2))
                == .existing(jobID: 3, reason: .duplicate))
        #expect(findings.asked == ["duplicate"])
    }

    @Test("The queue bound refuses at the limit, not below it; without a bound nothing is counted", arguments: DuplicatePolicy.allCases)
    func queueBound(policy: DuplicatePolicy) {
        let below = Findings(unfinished: 2)
        #expect(
            below.decide(Self.job(), SubmissionRules(onDuplicate: policy, maxUnfinished: 3)) == .insert(waitsForIdentity: policy == .queue))
        #expect(below.asked.last == "count")
        let at = Findings(unfinished: 3)
        #expect(at.decide(Self.job(), SubmissionRules(onDuplicate: policy, maxUnfinished: 3)) == .refused(.queueFull(limit: 3)))
        let zero = Findings(unfinished: 0)
        #expect(zero.decide(Self.job(), SubmissionRules(onDuplicate: policy, maxUnfinished: 0)) == .refused(.queueFull(limit: 0)))
        let unbounded = Findings(unfinished: 1_000_000)
        #expect(unbounded.decide(Self.job(), SubmissionRules(onDuplicate: policy)) == .insert(waitsForIdentity: policy == .queue))
        #expect(!unbounded.asked.contains("count"))
    }

    @Test("A failing lookup fails the decision")
    func lookupErrors() {
        struct Broken: Error {}
        #expect(throws: Broken.self) {
            try SubmissionDecision.decide(
                Self.job(), rules: SubmissionRules(maxUnfinished: 1), jobWithKey: { _ in nil }, oldestUnfinishedDuplicate: { nil },
                unfinishedCount: { throw Broken() })
        }
    }

    @Test("A created job's record: queued, nothing started, tasks reset, creation time as stored")
    func insertedRecord() {
        var job = Self.job(key: "k", digest: "d")
        job.params = ["a": "1"]
        job.secretParameters = ["token"]
        job.tasks = [
            TaskRecord(name: "t", needs: [], argv: ["x"], state: .failed, attempt: 3, pid: 9, exitCode: 1, message: "m"),
            TaskRecord(name: "n", needs: ["t"], argv: [], kind: .noop, options: TaskOptions(timeout: 5)),
        ]
        let at = Date(timeIntervalSince1970: 1_700_000_000.000_6)
        let record = JobRecord(inserted: job, id: 12, createdAt: at, waitsForIdentity: true)
        #expect(record.id == 12 && record.state == .queued && !record.cancelRequested)
        #expect(record.pipeline == "etl" && record.triggeredBy == "alice" && record.identitySource == "remote_user")
        #expect(record.params == ["a": "1"] && record.secretParameters == ["token"] && record.identity == "x")
        #expect(record.waitsForIdentity)
        #expect(record.createdAt == StoredTime.rounded(at) && record.startedAt == nil && record.finishedAt == nil)
        #expect(
            record.tasks == [
                TaskRecord(name: "t", needs: [], argv: ["x"]),
                TaskRecord(name: "n", needs: ["t"], argv: [], kind: .noop, options: TaskOptions(timeout: 5)),
            ])
    }
}
