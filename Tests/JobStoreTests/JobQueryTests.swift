import Foundation
import JobStore
import TestSupport
import Testing

/// Listing jobs: order, filters, cursors and limits, against every store.
@Suite struct JobQueryTests {
    @Test("jobs lists newest first, without tasks", arguments: StoreKind.allCases)
    func listNewestFirst(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let ids = try (0..<3).map { _ in try store.createJob(Fixtures.job()).id }
        #expect(ids == ids.sorted() && Set(ids).count == 3)
        let listed = try store.jobs(JobQuery())
        #expect(listed.map(\.id) == ids.reversed())
        #expect(listed.allSatisfy { $0.tasks.isEmpty })
        #expect(listed.allSatisfy { $0.params == ["date": "2024-05-01"] })
    }

    @Test("jobs filters by pipeline, and an empty pipeline set matches nothing", arguments: StoreKind.allCases)
    func listByPipeline(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let a1 = try store.createJob(Fixtures.job(pipeline: "a")).id
        let b1 = try store.createJob(Fixtures.job(pipeline: "b")).id
        let c1 = try store.createJob(Fixtures.job(pipeline: "c")).id
        let a2 = try store.createJob(Fixtures.job(pipeline: "a")).id
        #expect(try store.jobs(JobQuery(pipelines: ["a"])).map(\.id) == [a2, a1])
        #expect(try store.jobs(JobQuery(pipelines: ["a", "c"])).map(\.id) == [a2, c1, a1])
        #expect(try store.jobs(JobQuery(pipelines: ["zzz"])).isEmpty)
        #expect(try store.jobs(JobQuery(pipelines: [])).isEmpty)
        #expect(try store.jobs(JobQuery(pipelines: nil)).map(\.id) == [a2, c1, b1, a1])
    }

    @Test("jobs pages with a beforeID cursor and a limit", arguments: StoreKind.allCases)
    func listPaging(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let ids = try (0..<5).map { _ in try store.createJob(Fixtures.job()).id }
        let page1 = try store.jobs(JobQuery(limit: 2)).map(\.id)
        #expect(page1 == [ids[4], ids[3]])
        let page2 = try store.jobs(JobQuery(beforeID: page1.last, limit: 2)).map(\.id)
        #expect(page2 == [ids[2], ids[1]])
        let page3 = try store.jobs(JobQuery(beforeID: page2.last, limit: 2)).map(\.id)
        #expect(page3 == [ids[0]])
        #expect(try store.jobs(JobQuery(beforeID: ids[0], limit: 2)).isEmpty)
        #expect(try store.jobs(JobQuery(limit: 0)).isEmpty)
        #expect(try store.jobs(JobQuery(pipelines: ["etl"], beforeID: ids[3], limit: 1)).map(\.id) == [ids[2]])
    }

    @Test("jobs pages oldest first with an afterID cursor", arguments: StoreKind.allCases)
    func listOldestFirst(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let ids = try (0..<5).map { _ in try store.createJob(Fixtures.job()).id }
        var query = JobQuery(limit: 2)
        query.oldestFirst = true
        #expect(try store.jobs(query).map(\.id) == [ids[0], ids[1]])
        query.afterID = ids[1]
        #expect(try store.jobs(query).map(\.id) == [ids[2], ids[3]])
        query.afterID = ids[3]
        #expect(try store.jobs(query).map(\.id) == [ids[4]])
        query.afterID = ids[4]
        #expect(try store.jobs(query).isEmpty)
        // Both cursors at once: the ids strictly between them.
        var window = JobQuery(beforeID: ids[4], limit: 10)
        window.afterID = ids[1]
        #expect(try store.jobs(window).map(\.id) == [ids[3], ids[2]])
    }

    @Test("A limit above the store's maximum returns at most that many; a negative one none", arguments: StoreKind.allCases)
    func limitClamped(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        for _ in 0..<3 { _ = try store.createJob(Fixtures.job()) }
        #expect(try store.jobs(JobQuery(limit: -5)).isEmpty)
        #expect(try store.jobs(JobQuery(limit: Int.max)).count == 3)
    }

    @Test("jobs filters by ids, states, user, creation time and finish time; empty sets match nothing", arguments: StoreKind.allCases)
    func filters(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let queued = try store.createJob(Fixtures.job())
        clock.advance(by: 10)
        var bobs = Fixtures.job(pipeline: "other")
        bobs.triggeredBy = "bob"
        let running = try store.createJob(bobs)
        try store.record(jobID: running.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        clock.advance(by: 10)
        let failed = try store.createJob(Fixtures.job())
        try Fixtures.finish(store, failed, as: .failed)
        let failedAt = clock.now
        clock.advance(by: 10)
        let succeeded = try store.createJob(Fixtures.job())
        try Fixtures.finish(store, succeeded)

        #expect(try store.jobs(JobQuery(ids: [queued.id, failed.id, 9999])).map(\.id) == [failed.id, queued.id])
        #expect(try store.jobs(JobQuery(ids: [])).isEmpty)

        var byState = JobQuery()
        byState.states = [.running, .succeeded]
        #expect(try store.jobs(byState).map(\.id) == [succeeded.id, running.id])
        byState.states = [.failed]
        #expect(try store.jobs(byState).map(\.state) == [.failed])
        byState.states = []
        #expect(try store.jobs(byState).isEmpty)

        var byUser = JobQuery()
        byUser.triggeredBy = "bob"
        #expect(try store.jobs(byUser).map(\.id) == [running.id])
        byUser.triggeredBy = "nobody"
        #expect(try store.jobs(byUser).isEmpty)

        // createdFrom is inclusive, createdUntil exclusive.
        var byTime = JobQuery()
        byTime.createdFrom = running.createdAt
        byTime.createdUntil = succeeded.createdAt
        #expect(try store.jobs(byTime).map(\.id) == [failed.id, running.id])

        // finishedBefore: only finished jobs, strictly before the time.
        #expect(try store.jobs(JobQuery(finishedBefore: clock.now.addingTimeInterval(1))).map(\.id) == [succeeded.id, failed.id])
        #expect(try store.jobs(JobQuery(finishedBefore: failedAt)).isEmpty)
        #expect(try store.jobs(JobQuery(finishedBefore: failedAt.addingTimeInterval(0.001))).map(\.id) == [failed.id])

        // Filters combine.
        var combined = JobQuery(pipelines: ["etl"], finishedBefore: clock.now.addingTimeInterval(1))
        combined.states = [.succeeded, .running]
        #expect(try store.jobs(combined).map(\.id) == [succeeded.id])
    }
}
