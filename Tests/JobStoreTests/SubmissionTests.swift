import Foundation
import JobStore
import Locking
import TestSupport
import Testing

/// `submit`: idempotency keys, duplicate policies and queue bounds, against every store.
@Suite struct SubmissionTests {
    private static func keyed(_ key: String?, digest: String?, user: String = "alice", source: String = "remote_user") -> NewJob {
        var job = Fixtures.job()
        job.idempotencyKey = key
        job.requestDigest = digest
        job.triggeredBy = user
        job.identitySource = source
        return job
    }

    private static func identified(_ identity: String, pipeline: String = "etl") -> NewJob {
        var job = Fixtures.job(pipeline: pipeline)
        job.identity = identity
        return job
    }

    // MARK: - Idempotency keys

    @Test(
        "The same Idempotency-Key with the same request answers with the first job, stores nothing, and comes before other rules",
        arguments: StoreKind.allCases)
    func idempotencySameRequest(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let first = try Fixtures.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        #expect(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()) == .existing(first, .idempotencyKey))
        // Every Fixtures job has the same identity: without the key this would be a refused duplicate.
        #expect(
            try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules(onDuplicate: .reject, maxUnfinished: 0))
                == .existing(first, .idempotencyKey))
        #expect(try Fixtures.count(store) == 1)
        try Fixtures.finish(store, first)
        let finished = try #require(try store.job(id: first.id))
        #expect(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()) == .existing(finished, .idempotencyKey))
        #expect(try Fixtures.count(store) == 1)
        // No digest on either side counts as the same request.
        let undigested = try Fixtures.created(try store.submit(Self.keyed("k2", digest: nil), rules: SubmissionRules()))
        #expect(try store.submit(Self.keyed("k2", digest: nil), rules: SubmissionRules()) == .existing(undigested, .idempotencyKey))
        #expect(try Fixtures.count(store) == 2)
    }

    @Test("The same Idempotency-Key with a different request is refused and stores nothing", arguments: StoreKind.allCases)
    func idempotencyDifferentRequest(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let first = try Fixtures.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        #expect(
            try store.submit(Self.keyed("k1", digest: "d2"), rules: SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(
            try store.submit(Self.keyed("k1", digest: nil), rules: SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(
            try store.submit(Self.keyed("k1", digest: "d2"), rules: SubmissionRules(onDuplicate: .allow))
                == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(try Fixtures.count(store) == 1)
    }

    @Test("Idempotency keys are per caller: the same key from another user or identity source creates a job", arguments: StoreKind.allCases)
    func idempotencyPerCaller(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let alice = try Fixtures.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        let bob = try Fixtures.created(try store.submit(Self.keyed("k1", digest: "d1", user: "bob"), rules: SubmissionRules()))
        let aliceElsewhere = try Fixtures.created(
            try store.submit(Self.keyed("k1", digest: "d1", source: "service_token"), rules: SubmissionRules()))
        let unkeyed = try Fixtures.created(try store.submit(Self.keyed(nil, digest: "d1"), rules: SubmissionRules()))
        #expect(Set([alice.id, bob.id, aliceElsewhere.id, unkeyed.id]).count == 4)
        #expect(try store.submit(Self.keyed("k1", digest: "d1", user: "bob"), rules: SubmissionRules()) == .existing(bob, .idempotencyKey))
        #expect(try Fixtures.count(store) == 4)
    }

    // MARK: - Duplicate policies

    @Test(
        "Against an unfinished job of the same identity: return_existing answers with it, reject refuses, queue and allow create",
        arguments: StoreKind.allCases)
    func duplicatePolicies(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let first = try Fixtures.created(try store.submit(Self.identified("x"), rules: SubmissionRules()))
        #expect(!first.waitsForIdentity)
        #expect(first.identity == "x")
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .returnExisting)) == .existing(first, .duplicate))
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .reject)) == .refused(.duplicate(jobID: first.id)))
        #expect(try Fixtures.count(store) == 1)
        let queued = try Fixtures.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .queue)))
        #expect(queued.waitsForIdentity)
        let allowed = try Fixtures.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .allow)))
        #expect(!allowed.waitsForIdentity)
        // The oldest unfinished duplicate answers.
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .returnExisting)) == .existing(first, .duplicate))
        // Identity is scoped to the pipeline, and other identities are not duplicates.
        for policy in [DuplicatePolicy.returnExisting, .reject] {
            _ = try Fixtures.created(try store.submit(Self.identified("y-\(policy)"), rules: SubmissionRules(onDuplicate: policy)))
            _ = try Fixtures.created(
                try store.submit(Self.identified("x", pipeline: "other-\(policy)"), rules: SubmissionRules(onDuplicate: policy)))
        }
        #expect(try Fixtures.count(store) == 7)
    }

    @Test("A running job is a duplicate too; a succeeded, failed or cancelled one is not", arguments: StoreKind.allCases)
    func duplicateOnlyWhileUnfinished(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        for policy in [DuplicatePolicy.returnExisting, .reject] {
            let running = try Fixtures.created(try store.submit(Self.identified("run-\(policy)"), rules: SubmissionRules()))
            try store.record(jobID: running.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
            let submission = try store.submit(Self.identified("run-\(policy)"), rules: SubmissionRules(onDuplicate: policy))
            if policy == .reject {
                #expect(submission == .refused(.duplicate(jobID: running.id)))
            } else {
                #expect(submission == .existing(try #require(try store.job(id: running.id)), .duplicate))
            }
            for end in [JobState.succeeded, .failed, .cancelled] {
                let identity = "\(policy)-\(end)"
                let done = try Fixtures.created(try store.submit(Self.identified(identity), rules: SubmissionRules()))
                try Fixtures.finish(store, done, as: end)
                let again = try Fixtures.created(try store.submit(Self.identified(identity), rules: SubmissionRules(onDuplicate: policy)))
                #expect(again.id != done.id)
            }
        }
    }

    // MARK: - Queue bound

    @Test("maxUnfinished refuses a pipeline's next job while it has that many unfinished, per pipeline", arguments: StoreKind.allCases)
    func queueBound(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let bounded = SubmissionRules(maxUnfinished: 2)
        let a = try Fixtures.created(try store.submit(Fixtures.job(), rules: bounded))
        let b = try Fixtures.created(try store.submit(Fixtures.job(), rules: bounded))
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)))
        try store.record(jobID: b.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)), "running jobs count")
        #expect(try Fixtures.count(store) == 2)
        _ = try Fixtures.created(try store.submit(Fixtures.job(pipeline: "other"), rules: bounded))
        // An unfinished duplicate answers before the bound is checked.
        #expect(
            try store.submit(Fixtures.job(), rules: SubmissionRules(onDuplicate: .returnExisting, maxUnfinished: 2))
                == .existing(a, .duplicate))
        try Fixtures.finish(store, a)
        _ = try Fixtures.created(try store.submit(Fixtures.job(), rules: bounded))
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)))
        #expect(
            try store.submit(Fixtures.job(pipeline: "fresh"), rules: SubmissionRules(maxUnfinished: 0)) == .refused(.queueFull(limit: 0)))
        #expect(try Fixtures.count(store) == 4)
    }

    @Test("Eight concurrent submissions against a bound of 3 create exactly 3 jobs", arguments: StoreKind.allCases)
    func concurrentBound(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let results = Locked<[Result<Submission, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let result = Result { try store.submit(Fixtures.job(), rules: SubmissionRules(maxUnfinished: 3)) }
            results.withLock { $0.append(result) }
        }
        let submissions = try results.withLock { $0 }.map { try $0.get() }
        let created = submissions.compactMap { if case .created(let job) = $0 { job } else { nil } }
        #expect(created.count == 3)
        #expect(Set(created.map(\.id)).count == 3)
        #expect(submissions.filter { $0 == .refused(.queueFull(limit: 3)) }.count == 5)
        #expect(try Fixtures.count(store) == 3)
    }

    @Test("Eight concurrent submissions with one Idempotency-Key create one job and answer the rest with it", arguments: StoreKind.allCases)
    func concurrentIdempotency(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let results = Locked<[Result<Submission, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let result = Result { try store.submit(Self.keyed("same", digest: "d"), rules: SubmissionRules()) }
            results.withLock { $0.append(result) }
        }
        let submissions = try results.withLock { $0 }.map { try $0.get() }
        let created = submissions.compactMap { if case .created(let job) = $0 { job } else { nil } }
        #expect(created.count == 1)
        let job = try #require(created.first)
        #expect(submissions.filter { $0 == .existing(job, .idempotencyKey) }.count == 7)
        #expect(try Fixtures.count(store) == 1)
    }

    @Test(
        "on_duplicate queue stores the job as waiting for its identity; unfinishedJobs lists it in id order", arguments: StoreKind.allCases)
    func queueWaits(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let first = try Fixtures.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .queue)))
        // Queued even without an unfinished duplicate: the flag only says to wait for earlier ones.
        #expect(first.waitsForIdentity)
        let second = try Fixtures.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .queue)))
        let other = try Fixtures.created(try store.submit(Self.identified("y"), rules: SubmissionRules()))
        #expect(try store.job(id: second.id)?.waitsForIdentity == true)
        #expect(try store.job(id: other.id)?.waitsForIdentity == false)
        #expect(try store.job(id: second.id) == second)
        let unfinished = try store.unfinishedJobs()
        #expect(unfinished.map(\.id) == [first.id, second.id, other.id])
        #expect(unfinished.map(\.waitsForIdentity) == [true, true, false])
        #expect(unfinished.map(\.identity) == ["x", "x", "y"])
        // The queue policy is still bounded.
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .queue, maxUnfinished: 3))
                == .refused(.queueFull(limit: 3)))
    }
}
