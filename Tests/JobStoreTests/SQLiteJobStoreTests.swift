import Foundation
import JobStore
import SQLite
import TestSupport
import Testing

@Suite struct SQLiteJobStoreTests {
    @Test("Opening a store switches the database file to WAL journal mode")
    func walMode() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("jobs.sqlite")
        // A plain SQLite database starts in rollback-journal mode...
        #expect(try Connection(path: path).query("PRAGMA journal_mode").first?[0] == .text("delete"))
        let store = try SQLiteJobStore(path: path)
        _ = try store.createJob(Fixtures.job())
        // ...and WAL is a property of the file, so a separate connection observes the store's
        // choice. `synchronous = FULL` is per connection and cannot be observed from outside the
        // store: a second connection reports only its own (compile-time default) setting.
        let other = try Connection(path: path)
        #expect(try other.query("PRAGMA journal_mode").first?[0] == .text("wal"))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try other.query("PRAGMA user_version").first?[0] == .integer(3), "all three migrations applied")
    }

    @Test("Opening a store fails for an unusable path or a database from a newer schema")
    func openFailures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: (any Error).self) { try SQLiteJobStore(path: dir.file("missing/jobs.sqlite")) }
        let path = dir.file("newer.sqlite")
        try Connection(path: path).execute("PRAGMA user_version = 99")
        #expect(throws: (any Error).self) { try SQLiteJobStore(path: path) }
    }

    @Test("createJob stores the job and its tasks in definition order, all queued, and returns them")
    func createJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
        let new = Fixtures.job(params: ["date": "2024-05-01", "env": "prod"])
        let created = try store.createJob(new)
        #expect(created.id > 0)
        #expect(created.pipeline == "etl")
        #expect(created.state == .queued)
        #expect(created.triggeredBy == "alice")
        #expect(created.identitySource == "remote_user")
        #expect(created.params == ["date": "2024-05-01", "env": "prod"])
        #expect(created.workingDirectory == "/srv/etl")
        #expect(created.cancelRequested == false)
        #expect(created.createdAt == clock.now)
        #expect(created.startedAt == nil && created.finishedAt == nil)
        #expect(created.tasks.map(\.name) == ["load", "extract", "right", "left"])
        #expect(created.tasks.map(\.needs) == new.tasks.map(\.needs))
        #expect(created.tasks.map(\.argv) == new.tasks.map(\.argv))
        for task in created.tasks {
            #expect(task.state == .queued)
            #expect(task.attempt == 0)
            #expect(task.pid == nil && task.exitCode == nil && task.message == nil)
            #expect(task.startedAt == nil && task.finishedAt == nil)
        }
        #expect(try store.job(id: created.id) == created)
    }

    @Test("createJob ignores task states and attempts in the request: every task starts queued")
    func createJobResetsTasks() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        var new = Fixtures.job()
        new.tasks[0].state = .succeeded
        new.tasks[0].attempt = 3
        new.tasks[0].pid = 1234
        let created = try store.createJob(new)
        #expect(created.tasks[0].state == .queued)
        #expect(created.tasks[0].attempt == 0)
        #expect(created.tasks[0].pid == nil)
    }

    @Test("job(id:) returns nil for an id that does not exist")
    func missingJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let created = try store.createJob(Fixtures.job())
        #expect(try store.job(id: created.id + 1) == nil)
        #expect(try store.job(id: 0) == nil)
        #expect(try store.job(id: -1) == nil)
    }

    @Test("jobs lists newest first, without tasks")
    func listNewestFirst() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let ids = try (0..<3).map { _ in try store.createJob(Fixtures.job()).id }
        #expect(ids == ids.sorted() && Set(ids).count == 3)
        let listed = try store.jobs(JobQuery())
        #expect(listed.map(\.id) == ids.reversed())
        #expect(listed.allSatisfy { $0.tasks.isEmpty })
        #expect(listed.allSatisfy { $0.params == ["date": "2024-05-01"] })
    }

    @Test("jobs filters by pipeline, and an empty pipeline set matches nothing")
    func listByPipeline() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
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

    @Test("jobs pages with a beforeID cursor and a limit")
    func listPaging() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
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

    @Test("requestCancel flags an unfinished job and returns it")
    func cancelUnfinished() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let queued = try store.createJob(Fixtures.job())
        let running = try store.createJob(Fixtures.job())
        try store.record(jobID: running.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        let cancelledQueued = try #require(try store.requestCancel(jobID: queued.id))
        #expect(cancelledQueued.cancelRequested)
        #expect(cancelledQueued.state == .queued)
        #expect(try store.requestCancel(jobID: running.id)?.cancelRequested == true)
        #expect(try store.job(id: queued.id)?.cancelRequested == true)
        #expect(try store.unfinishedJobs().map(\.cancelRequested) == [true, true])
    }

    @Test("requestCancel leaves a finished job unchanged, and returns nil for a missing one")
    func cancelFinishedOrMissing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let job = try store.createJob(Fixtures.job())
        let changes = ["extract", "left", "right", "load"].map { TaskChange(task: $0, state: .succeeded, exitCode: 0) }
        try store.record(jobID: job.id, changes: changes, jobState: .succeeded)
        let before = try #require(try store.job(id: job.id))
        let returned = try #require(try store.requestCancel(jobID: job.id))
        #expect(returned == before)
        #expect(returned.cancelRequested == false)
        #expect(try store.job(id: job.id) == before)
        #expect(try store.requestCancel(jobID: job.id + 100) == nil)
    }

    @Test("Jobs survive closing the store and opening a new one on the same file")
    func durability() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let expected: JobRecord
        do {
            let store = try Fixtures.store(dir, clock: clock)
            let job = try store.createJob(Fixtures.job())
            clock.advance(by: 1)
            try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 4321)], jobState: .running)
            clock.advance(by: 1)
            try store.record(
                jobID: job.id, changes: [TaskChange(task: "extract", state: .failed, exitCode: 2, message: "boom")], jobState: .running)
            _ = try store.requestCancel(jobID: job.id)
            expected = try #require(try store.job(id: job.id))
        }
        let reopened = try Fixtures.store(dir, clock: clock)
        #expect(try reopened.job(id: expected.id) == expected)
        #expect(try reopened.unfinishedJobs().map(\.id) == [expected.id])
        #expect(try reopened.integrityCheck() == ["ok"])
        // Ids keep increasing after reopening.
        #expect(try reopened.createJob(Fixtures.job()).id > expected.id)
    }

    @Test("integrityCheck reports ok for a healthy store")
    func integrity() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        #expect(try store.integrityCheck() == ["ok"])
        _ = try store.createJob(Fixtures.job())
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test("Hostile strings round-trip through every stored field unchanged")
    func hostileStrings() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let hostile = [
            "'; DROP TABLE jobs; --", "\"); DELETE FROM tasks; --", "Robert'); DROP TABLE tasks;--",
            "tab\tnewline\ncarriage\r", "back\\slash / slash", "{\"json\": [1, 2]}", "\u{1}\u{7f}",
            "Grüße 東京 🚀 👩‍👩‍👧", "e\u{301}", "\u{2028}\u{2029}", "",
        ]
        var params: [String: String] = [:]
        for (i, value) in hostile.enumerated() { params["p\(i)"] = value }
        params["'; DROP TABLE jobs; --"] = "key too"
        let new = NewJob(
            pipeline: "'; DROP TABLE jobs; --", triggeredBy: "O'Brien \"the\" 🚀", identitySource: "x'); --",
            params: params, workingDirectory: "/tmp/it's a \"dir\"",
            tasks: [
                TaskRecord(name: "a'b", needs: [], argv: hostile),
                TaskRecord(name: "🚀", needs: ["a'b"], argv: ["/bin/echo", "'; DROP TABLE tasks; --"]),
            ])
        let created = try store.createJob(new)
        let loaded = try #require(try store.job(id: created.id))
        #expect(loaded == created)
        // String == is canonical equivalence; compare the exact bytes.
        func bytes(_ s: [String]) -> [[UInt8]] { s.map { Array($0.utf8) } }
        #expect(Array(loaded.pipeline.utf8) == Array(new.pipeline.utf8))
        #expect(Array(loaded.triggeredBy.utf8) == Array(new.triggeredBy.utf8))
        #expect(Array(loaded.identitySource.utf8) == Array(new.identitySource.utf8))
        #expect(Array(loaded.workingDirectory.utf8) == Array(new.workingDirectory.utf8))
        #expect(bytes(loaded.params.keys.sorted()) == bytes(params.keys.sorted()))
        #expect(bytes(loaded.params.keys.sorted().map { loaded.params[$0]! }) == bytes(params.keys.sorted().map { params[$0]! }))
        #expect(bytes(loaded.tasks[0].argv) == bytes(hostile))
        #expect(loaded.tasks.map(\.name) == ["a'b", "🚀"])
        #expect(loaded.tasks[1].needs == ["a'b"])
        // The hostile pipeline name works as a filter too, and nothing was dropped.
        #expect(try store.jobs(JobQuery(pipelines: [new.pipeline])).map(\.id) == [created.id])
        try store.record(
            jobID: created.id, changes: [TaskChange(task: "🚀", state: .skipped, message: "'; DROP TABLE tasks; --")], jobState: .queued)
        #expect(try store.job(id: created.id)?.tasks[1].message == "'; DROP TABLE tasks; --")
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test("Concurrent writers and readers each see consistent jobs", .timeLimit(.minutes(1)))
    func concurrentUse() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var ids: [Int64] = []
                    for i in 0..<15 {
                        let job = try store.createJob(Fixtures.job(pipeline: "w\(worker)", params: ["i": "\(i)"]))
                        let read = try #require(try store.job(id: job.id))
                        #expect(read.tasks.count == 4 && read.params == ["i": "\(i)"])
                        _ = try store.jobs(JobQuery(limit: 10))
                        ids.append(job.id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(ids).count == 90)
        #expect(try store.jobs(JobQuery(limit: 1000)).count == 90)
        #expect(try store.integrityCheck() == ["ok"])
    }
}
