import Foundation
import JobStore
import TestSupport
import Testing

/// The overview a store keeps for a finished job whose tasks have layers (`JobOverview`), against
/// every store: what the SQL computes must be what the same tasks give when tallied in Swift.
@Suite struct JobOverviewTests {
    /// A job of `count` tasks, `perLayer` to a layer, each needing the one a layer before it.
    static func layeredJob(count: Int, perLayer: Int = 50, layers: Bool = true) -> NewJob {
        NewJob(
            pipeline: "wide", triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/",
            tasks: (0..<count).map { i in
                TaskRecord(
                    name: "t\(i)", needs: i >= perLayer ? ["t\(i - perLayer)"] : [], argv: ["/bin/true"],
                    layer: layers ? i / perLayer : nil)
            })
    }

    @Test(
        "A finished job with layers keeps counts, retries and times per layer and state, and its first 200 tasks by rank",
        arguments: StoreKind.allCases)
    func keptWhenFinished(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Self.layeredJob(count: 260))
        // Layer 0 runs; t3 fails once and is retried, t7 fails twice and gives up.
        try store.record(jobID: job.id, changes: (0..<50).map { TaskChange(task: "t\($0)", state: .running, pid: 100) }, jobState: .running)
        clock.advance(by: 2)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "t3", state: .queued, exitCode: 1, message: "flaky", retryAt: clock.now),
                TaskChange(task: "t7", state: .queued, exitCode: 2, message: "broken", retryAt: clock.now),
            ] + (0..<50).filter { $0 != 3 && $0 != 7 }.map { TaskChange(task: "t\($0)", state: .succeeded, exitCode: 0) },
            jobState: .running)
        clock.advance(by: 1)
        try store.record(
            jobID: job.id, changes: ["t3", "t7"].map { TaskChange(task: $0, state: .running, pid: 200) }, jobState: .running)
        clock.advance(by: 3)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "t3", state: .succeeded, exitCode: 0),
                TaskChange(task: "t7", state: .failed, exitCode: 2, message: "broken"),
            ], jobState: .running)
        // Layer 1 succeeds without running (noops) except t57, which the job never started;
        // everything after t57 in layers 1-4 is skipped, and t250 failed to start.
        clock.advance(by: 1)
        try store.record(
            jobID: job.id,
            changes: (50..<100).filter { $0 != 57 }.map { TaskChange(task: "t\($0)", state: .succeeded) }
                + [TaskChange(task: "t57", state: .cancelled, message: "cancelled")]
                + (100..<260).filter { $0 != 250 }.map { TaskChange(task: "t\($0)", state: .skipped) }
                + [TaskChange(task: "t250", state: .failed, message: "could not start")],
            jobState: .running)
        #expect(try store.jobOverview(id: job.id) == nil, "nothing is kept while the job runs")
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [], jobState: .failed)

        let full = try #require(try store.job(id: job.id))
        let kept = try #require(try store.jobOverview(id: job.id))
        #expect(kept == JobOverview.of(full), "the store's overview is what the tasks give")
        #expect(kept.job.state == .failed && kept.job.tasks.isEmpty && kept.taskCount == 260 && kept.failedCount == 2)
        #expect(kept.rows.count == JobOverview.rankedLimit)
        #expect(kept.rows.prefix(3).map(\.name) == ["t7", "t250", "t0"], "failed first, then the rest in definition order")
        #expect(kept.rows[2...].map(\.name) == (0..<260).filter { $0 != 7 && $0 != 250 }.prefix(198).map { "t\($0)" })
        let layer0 = kept.tallies.filter { $0.layer == 0 }
        #expect(layer0.map(\.state) == [.failed, .succeeded])
        #expect(layer0.map(\.tasks) == [1, 49] && layer0.map(\.retries) == [1, 1])
        #expect(layer0.map(\.firstStart) == [Fixtures.epoch, Fixtures.epoch], "from each task's first attempt")
        #expect(layer0.map(\.lastEnd) == [Fixtures.epoch.addingTimeInterval(6), Fixtures.epoch.addingTimeInterval(6)])
        let layer1 = kept.tallies.filter { $0.layer == 1 }
        #expect(layer1.map(\.state) == [.cancelled, .succeeded] && layer1.map(\.tasks) == [1, 49])
        #expect(layer1.last?.firstStart == Fixtures.epoch.addingTimeInterval(7), "a noop that never started counts at its finish")
        #expect(layer1.first?.firstStart == nil)
        #expect(kept.tallies.filter { $0.layer == 5 }.map(\.state) == [.failed, .skipped])
        #expect(kept.rows.first?.pastAttempts.count == 1 && kept.rows.first?.layer == 0, "rows have every field")
    }

    @Test(
        "No overview for a missing, unfinished or layerless job; a retry drops it and the next finish keeps a new one",
        arguments: StoreKind.allCases)
    func keptOnlyForFinishedLayeredJobs(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        #expect(try store.jobOverview(id: 999) == nil)
        let plain = try store.createJob(Self.layeredJob(count: 3, layers: false))
        try store.record(
            jobID: plain.id, changes: plain.tasks.map { TaskChange(task: $0.name, state: .succeeded, exitCode: 0) }, jobState: .succeeded)
        #expect(try store.jobOverview(id: plain.id) == nil, "created without layers: nothing to summarise by")

        let job = try store.createJob(Self.layeredJob(count: 3, perLayer: 1))
        #expect(try store.jobOverview(id: job.id) == nil)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "t0", state: .failed, exitCode: 1), TaskChange(task: "t1", state: .skipped),
                TaskChange(task: "t2", state: .skipped),
            ], jobState: .failed)
        #expect(try store.jobOverview(id: job.id)?.failedCount == 1)
        #expect(try store.retry(jobID: job.id) != nil)
        #expect(try store.jobOverview(id: job.id) == nil, "a retried job is not the job the overview described")
        try store.record(
            jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: .succeeded, exitCode: 0) }, jobState: .succeeded)
        let again = try #require(try store.jobOverview(id: job.id))
        #expect(again.failedCount == 0 && again.job.state == .succeeded)
        #expect(again.tallies.map(\.layer) == [0, 1, 2] && again.tallies.allSatisfy { $0.state == .succeeded && $0.tasks == 1 })
        #expect(again == JobOverview.of(try #require(try store.job(id: job.id))))
    }

    @Test("A job whose tasks only partly have layers finishes as usual, with no overview", arguments: StoreKind.allCases)
    func partlyLayered(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        var job = Self.layeredJob(count: 4, perLayer: 2)
        job.tasks[3].layer = nil
        let created = try store.createJob(job)
        try store.record(
            jobID: created.id, changes: created.tasks.map { TaskChange(task: $0.name, state: .succeeded, exitCode: 0) },
            jobState: .succeeded)
        #expect(try store.job(id: created.id)?.state == .succeeded, "the end of the job is committed")
        #expect(try store.jobOverview(id: created.id) == nil)
    }

    @Test("Tallies order layers by number and states by name as bytes, and need every task's layer")
    func talliesInSwift() throws {
        let tasks = [
            TaskRecord(name: "a", needs: [], argv: [], state: .succeeded, layer: 10),
            TaskRecord(name: "b", needs: [], argv: [], state: .failed, attempt: 3, layer: 2),
            TaskRecord(name: "c", needs: [], argv: [], state: .cancelled, layer: 2),
        ]
        let tallies = try #require(LayerTally.tallies(of: tasks))
        #expect(tallies.map(\.layer) == [2, 2, 10] && tallies.map(\.state) == [.cancelled, .failed, .succeeded])
        #expect(tallies.map(\.retries) == [0, 2, 0])
        #expect(LayerTally.tallies(of: tasks + [TaskRecord(name: "d", needs: [], argv: [])]) == nil)
        #expect(LayerTally.tallies(of: tasks, layers: [0, 0, 0])?.map(\.layer) == [0, 0, 0], "given layers win")
    }

    @Test("The stored overview round-trips, and anything malformed is refused")
    func column() throws {
        let stored = JobOverviewColumn.Stored(
            taskCount: 3, failedCount: 1,
            tallies: [
                LayerTally(layer: 0, state: .failed, tasks: 1, retries: 2, firstStart: Fixtures.epoch, lastEnd: nil),
                LayerTally(layer: 1, state: .skipped, tasks: 2, retries: 0, firstStart: nil, lastEnd: Fixtures.epoch),
            ],
            ranked: ["a\"b", "ü\u{212A}", "c"])
        #expect(try JobOverviewColumn.decode(JobOverviewColumn.encode(stored)) == stored)
        for text in [
            "", "[]", "{}", "null", "{\"tasks\":1}", "{\"tasks\":1,\"failed\":0,\"tallies\":[],\"ranked\":[1]}",
            "{\"tasks\":1.5,\"failed\":0,\"tallies\":[],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[0,\"done\",1,0,null,null]],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[0,\"failed\",1,0,null]],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[\"0\",\"failed\",1,0,null,null]],\"ranked\":[]}",
            "{\"tasks\":1e300,\"failed\":0,\"tallies\":[],\"ranked\":[]}", String(repeating: "[", count: 100_000),
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[-1,\"failed\",1,0,null,null]],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[9007199254740991,\"failed\",1,0,null,null]],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":0,\"tallies\":[[0,\"failed\",-1,0,null,null]],\"ranked\":[]}",
            "{\"tasks\":1,\"failed\":2,\"tallies\":[],\"ranked\":[]}", "{\"tasks\":-1,\"failed\":0,\"tallies\":[],\"ranked\":[]}",
        ] {
            #expect(throws: JobStoreError.self, "\(text.prefix(60))") { try JobOverviewColumn.decode(text) }
        }
    }
}
