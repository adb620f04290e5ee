import Foundation
import JobStore
import TestSupport
import Testing

/// Creating jobs and reading them back, against every store.
@Suite struct CreateAndReadTests {
    @Test("createJob stores the job and its tasks in definition order, all queued, and returns them", arguments: StoreKind.allCases)
    func createJob(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
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

    @Test("createJob ignores task states and attempts in the request: every task starts queued", arguments: StoreKind.allCases)
    func createJobResetsTasks(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        var new = Fixtures.job()
        new.tasks[0].state = .succeeded
        new.tasks[0].attempt = 3
        new.tasks[0].pid = 1234
        let created = try h.store.createJob(new)
        #expect(created.tasks[0].state == .queued)
        #expect(created.tasks[0].attempt == 0)
        #expect(created.tasks[0].pid == nil)
        #expect(try h.store.job(id: created.id) == created)
    }

    @Test("A created job's times are whole milliseconds, the same as it reads back", arguments: StoreKind.allCases)
    func createdAtRounded(_ kind: StoreKind) throws {
        let clock = TestClock(Date(timeIntervalSince1970: 1_700_000_000.123_456_7))
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let created = try h.store.createJob(Fixtures.job())
        #expect(created.createdAt == StoredTime.rounded(clock.now))
        #expect(created.createdAt != clock.now)
        #expect(try h.store.job(id: created.id)?.createdAt == created.createdAt)
    }

    @Test("job(id:) returns nil for an id that does not exist", arguments: StoreKind.allCases)
    func missingJob(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let created = try store.createJob(Fixtures.job())
        #expect(try store.job(id: created.id + 1) == nil)
        #expect(try store.job(id: 0) == nil)
        #expect(try store.job(id: -1) == nil)
    }

    @Test("Jobs survive closing the store and opening a new one on the same data", arguments: StoreKind.allCases)
    func durability(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let expected: JobRecord
        do {
            let store = h.store
            let job = try store.createJob(Fixtures.job())
            clock.advance(by: 1)
            try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 4321)], jobState: .running)
            clock.advance(by: 1)
            try store.record(
                jobID: job.id, changes: [TaskChange(task: "extract", state: .failed, exitCode: 2, message: "boom")], jobState: .running)
            _ = try store.requestCancel(jobID: job.id)
            expected = try #require(try store.job(id: job.id))
        }
        let reopened = try h.reopen()
        #expect(try reopened.job(id: expected.id) == expected)
        #expect(try reopened.unfinishedJobs().map(\.id) == [expected.id])
        #expect(try h.consistencyProblems() == [])
        // Ids keep increasing after reopening.
        #expect(try reopened.createJob(Fixtures.job()).id > expected.id)
    }

    @Test("Hostile strings round-trip through every stored field unchanged", arguments: StoreKind.allCases)
    func hostileStrings(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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
        #expect(try h.consistencyProblems() == [])
    }

    @Test(
        "Canonically equivalent but byte-different names are stored as given and never match each other",
        arguments: StoreKind.allCases)
    func canonicalEquivalents(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        // U+212A KELVIN SIGN is canonically equivalent to "K" (Swift's == says they are equal);
        // "é" precomposed and decomposed likewise.
        let (latin, kelvin) = ("K", "\u{212A}")
        #expect(latin == kelvin, "the premise: Swift calls them equal")
        var a = Fixtures.job(pipeline: latin)
        a.triggeredBy = "\u{E9}"
        a.identity = latin
        var b = Fixtures.job(pipeline: kelvin)
        b.triggeredBy = "e\u{301}"
        b.identity = kelvin
        let jobA = try Fixtures.created(try store.submit(a, rules: SubmissionRules(onDuplicate: .reject, maxUnfinished: 1)))
        // Another pipeline to the store: neither a duplicate of `a` nor counted in its bound.
        let jobB = try Fixtures.created(try store.submit(b, rules: SubmissionRules(onDuplicate: .reject, maxUnfinished: 1)))
        #expect(bytes([try #require(try store.job(id: jobA.id)).pipeline]) == bytes([latin]))
        #expect(bytes([try #require(try store.job(id: jobB.id)).pipeline]) == bytes([kelvin]))
        #expect(bytes([try #require(try store.job(id: jobB.id)).triggeredBy]) == bytes(["e\u{301}"]))
        #expect(try store.jobs(JobQuery(pipelines: [latin])).map(\.id) == [jobA.id])
        #expect(try store.jobs(JobQuery(pipelines: [kelvin])).map(\.id) == [jobB.id])
        var byUser = JobQuery()
        byUser.triggeredBy = "e\u{301}"
        #expect(try store.jobs(byUser).map(\.id) == [jobB.id])
        // The same identity under the same pipeline is a duplicate; the equivalent one is not.
        #expect(try store.submit(b, rules: SubmissionRules(onDuplicate: .reject)) == .refused(.duplicate(jobID: jobB.id)))
        var sameIdentityOtherBytes = Fixtures.job(pipeline: latin)
        sameIdentityOtherBytes.identity = kelvin
        _ = try Fixtures.created(try store.submit(sameIdentityOtherBytes, rules: SubmissionRules(onDuplicate: .reject)))
        // Idempotency keys are per caller as bytes, and keys are compared as bytes.
        a.idempotencyKey = latin
        b.idempotencyKey = latin
        let keyedA = try Fixtures.created(try store.submit(a, rules: SubmissionRules()))
        let keyedB = try Fixtures.created(try store.submit(b, rules: SubmissionRules()))
        #expect(keyedA.id != keyedB.id)
        a.idempotencyKey = kelvin
        _ = try Fixtures.created(try store.submit(a, rules: SubmissionRules()))
        // Audit records filter the same way.
        try store.appendAudit(Fixtures.audit("trigger", user: "\u{E9}", pipeline: latin))
        try store.appendAudit(Fixtures.audit("trigger", user: "e\u{301}", pipeline: kelvin))
        let latinRecords = try store.auditRecords(AuditQuery(pipelines: [latin], includeUnscoped: false))
        #expect(latinRecords.count == 1 && bytes([latinRecords[0].pipeline ?? ""]) == bytes([latin]))
        let decomposed = try store.auditRecords(AuditQuery(user: "e\u{301}"))
        #expect(decomposed.count == 1 && bytes([decomposed[0].user ?? ""]) == bytes(["e\u{301}"]))
    }

    @Test("Concurrent writers and readers each see consistent jobs", .timeLimit(.minutes(1)), arguments: StoreKind.allCases)
    func concurrentUse(_ kind: StoreKind) async throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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
        #expect(try h.consistencyProblems() == [])
    }

    @Test("Task kinds and options round-trip, hostile strings included", arguments: StoreKind.allCases)
    func kindAndOptionsRoundTrip(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let hostile = TaskOptions(
            retry: RetryPolicy(retries: 3, initialDelay: 0.25, factor: 1.5, maxDelay: 60, jitter: 0.1), timeout: 12.5,
            environment: [
                "QUOTES": "\"'`", "BACKSLASH": "a\\b\\\\c\\", "LINES": "l1\nl2\r\n\tl3",
                "UNICODE": "héllo wörld ✓ 日本語 🚀 \u{202E}rtl \u{2028}",
                "JSON": "{\"a\":[1,2],\"b\":null}", "EMPTY": "", "SEPARATOR": "\",\"", "CONTROL": "\u{1}\u{1F}\u{7F}",
            ],
            workingDirectory: "/srv/with space/\"q\"/back\\slash", creates: "/tmp/out\n\"x\"\\.done ✓",
            resources: ["db": 2, "gpu ✓": 1, "\"": 3, "a\\b": 4])
        var new = Fixtures.job()
        new.tasks = [
            TaskRecord(name: "opts", needs: [], argv: ["/bin/true"], options: hostile),
            TaskRecord(name: "join", needs: ["opts"], argv: [], kind: .noop),
            TaskRecord(name: "plain", needs: ["join"], argv: ["/bin/true"]),
            TaskRecord(name: "noop-opts", needs: [], argv: [], kind: .noop, options: TaskOptions(resources: ["db": 1])),
        ]
        let created = try store.createJob(new)
        let loaded = try #require(try store.job(id: created.id))
        #expect(loaded.tasks == created.tasks)
        #expect(loaded.tasks.map(\.kind) == [.command, .noop, .command, .noop])
        #expect(loaded.tasks.map(\.options) == new.tasks.map(\.options))
        #expect(loaded.task("opts")?.options == hostile)
    }

    @Test(
        "needs and argv round-trip with separators, quotes, backslashes, brackets, empty strings and control characters",
        arguments: StoreKind.allCases)
    func stringArraysRoundTrip(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        var new = Fixtures.job()
        new.tasks = Fixtures.awkwardArrays.enumerated().map { i, array in
            TaskRecord(name: array.first.map { "\(i):\($0)" } ?? "\(i)", needs: array, argv: array)
        }
        // Names that look like the encoding itself, referenced as needs.
        let names = ["a\",\"b", "\",\"", "", "[]", "\\", "\"", "[\"", "\"]", "x\ny"]
        new.tasks += names.enumerated().map { i, name in
            TaskRecord(name: name, needs: i == 0 ? [] : [names[i - 1]], argv: [name, name])
        }
        new.secretParameters = ["a\",\"b", ""]
        let created = try store.createJob(new)
        let loaded = try #require(try store.job(id: created.id))
        #expect(loaded.tasks.map(\.name) == new.tasks.map(\.name))
        #expect(loaded.tasks.map(\.needs) == new.tasks.map(\.needs))
        #expect(loaded.tasks.map(\.argv) == new.tasks.map(\.argv))
        #expect(loaded.secretParameters == ["a\",\"b", ""])
        for (task, expected) in zip(loaded.tasks, new.tasks)
        where bytes(task.needs) != bytes(expected.needs) || bytes(task.argv) != bytes(expected.argv) {
            Issue.record("\(expected.name.debugDescription): needs \(task.needs) argv \(task.argv), expected \(expected.argv)")
        }
    }
}

/// `jobStamp(id:)`: the state and times the finished-job cache checks, against every store.
@Suite struct JobStampTests {
    @Test("jobStamp follows the job through running, finished and retried; nil for a missing id", arguments: StoreKind.allCases)
    func stamps(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        #expect(try store.jobStamp(id: job.id) == JobStamp(state: .queued, startedAt: nil, finishedAt: nil))
        #expect(try store.jobStamp(id: job.id + 1000) == nil)
        // A stamp read once (and kept, by the SQLite store) must not outlive a change: the next
        // job's id is missing first, then created.
        #expect(try store.jobStamp(id: job.id + 1) == nil)
        let next = try store.createJob(Fixtures.job())
        #expect(next.id == job.id + 1)
        #expect(try store.jobStamp(id: next.id) == JobStamp(state: .queued, startedAt: nil, finishedAt: nil))
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 1)], jobState: .running)
        clock.advance(by: 5)
        try store.record(
            jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: .failed, exitCode: 1) }, jobState: .failed)
        let failed = try #require(try store.job(id: job.id))
        let stamp = try #require(try store.jobStamp(id: job.id))
        #expect(stamp == JobStamp(of: failed))
        #expect(stamp.state == .failed && stamp.finishedAt != nil && stamp.startedAt != nil)
        #expect(try store.jobStamp(id: job.id) == stamp, "asked again, unchanged")
        _ = try store.retry(jobID: job.id, audit: nil)
        #expect(try store.jobStamp(id: job.id) != stamp)
        #expect(try store.jobStamp(id: job.id)?.state == .queued)
    }
}
