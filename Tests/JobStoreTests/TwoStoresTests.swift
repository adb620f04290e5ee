import Foundation
import JobStore
import Locking
import TestSupport
import Testing

/// Two store instances on the same data, as two Sluice hosts on one database (for SQLite: two
/// `SQLiteJobStore`s on one file), submitting from several threads at once: the decisions
/// `submit` makes must hold across both, not just within one.
@Suite struct TwoStoresTests {
    private static let threads = 12

    /// Runs `body` on `count` threads at once; its results in index order.
    private static func concurrently<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let results = Locked<[Int: Result<T, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let result = Result { try body(i) }
            results.withLock { $0[i] = result }
        }
        let all = results.withLock { $0 }
        return try (0..<count).map { try all[$0]!.get() }
    }

    private static func createdJobs(_ submissions: [Submission]) -> [JobRecord] {
        submissions.compactMap { if case .created(let job) = $0 { job } else { nil } }
    }

    @Test(
        "Two stores submitting at once into one pipeline never exceed maxUnfinished: 5",
        .timeLimit(.minutes(2)), arguments: StoreKind.allCases)
    func queueBound(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let stores: [any JobStore] = [h.store, try h.reopen()]
        for round in 0..<3 {
            let submissions = try Self.concurrently(Self.threads) { i in
                var job = Fixtures.job(pipeline: "bounded", params: ["i": "\(round)-\(i)"])
                job.identity = "bounded-\(round)-\(i)"
                return try stores[i % 2].submit(job, rules: SubmissionRules(maxUnfinished: 5))
            }
            let created = Self.createdJobs(submissions)
            #expect(created.count == 5, "round \(round)")
            #expect(submissions.filter { $0 == .refused(.queueFull(limit: 5)) }.count == Self.threads - 5)
            #expect(try stores[round % 2].unfinishedJobs().count == 5)
            for job in created { try Fixtures.finish(stores[Int(job.id % 2)], job) }
        }
        // Submitting and finishing at once: no snapshot ever shows more than 5 unfinished.
        let most = Locked(0)
        _ = try Self.concurrently(Self.threads) { i in
            let store = stores[i % 2]
            for n in 0..<6 {
                var job = Fixtures.job(pipeline: "bounded", params: ["i": "mixed-\(i)-\(n)"])
                job.identity = "mixed-\(i)-\(n)"
                if case .created(let created) = try store.submit(job, rules: SubmissionRules(maxUnfinished: 5)), n % 2 == 0 {
                    try Fixtures.finish(store, created)
                }
                let unfinished = try store.unfinishedJobs().count
                most.withLock { $0 = max($0, unfinished) }
            }
        }
        #expect(most.withLock { $0 } <= 5)
        #expect(try stores[0].unfinishedJobs().count <= 5)
        #expect(try h.consistencyProblems() == [])
    }

    @Test(
        "Two stores submitting the same identity at once under on_duplicate: reject create one unfinished job",
        .timeLimit(.minutes(2)), arguments: StoreKind.allCases)
    func rejectDuplicates(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let stores: [any JobStore] = [h.store, try h.reopen()]
        for round in 0..<3 {
            let submissions = try Self.concurrently(Self.threads) { i in
                var job = Fixtures.job(pipeline: "dedup", params: ["i": "\(i)"])
                job.identity = "same"
                return try stores[i % 2].submit(job, rules: SubmissionRules(onDuplicate: .reject))
            }
            let created = Self.createdJobs(submissions)
            try #require(created.count == 1, "round \(round)")
            #expect(submissions.filter { $0 == .refused(.duplicate(jobID: created[0].id)) }.count == Self.threads - 1)
            #expect(try stores[1].unfinishedJobs().map(\.id) == [created[0].id])
            try Fixtures.finish(stores[round % 2], created[0])
        }
        #expect(try Fixtures.count(stores[0]) == 3)
    }

    @Test(
        "One Idempotency-Key used through two stores at once, even for different pipelines, gives one job",
        .timeLimit(.minutes(2)), arguments: StoreKind.allCases)
    func idempotencyKey(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let stores: [any JobStore] = [h.store, try h.reopen()]
        let submissions = try Self.concurrently(Self.threads) { i in
            // Different pipelines, so that only the key's own lock can serialise them.
            var job = Fixtures.job(pipeline: "keyed-\(i % 3)")
            job.idempotencyKey = "once"
            job.requestDigest = "d"
            return try stores[i % 2].submit(job, rules: SubmissionRules(onDuplicate: .allow))
        }
        let created = Self.createdJobs(submissions)
        try #require(created.count == 1)
        let existing = submissions.compactMap { if case .existing(let job, .idempotencyKey) = $0 { job.id } else { nil } }
        #expect(existing == Array(repeating: created[0].id, count: Self.threads - 1))
        #expect(try Fixtures.count(stores[0]) == 1)
        #expect(try Fixtures.count(stores[1]) == 1)
    }
}
