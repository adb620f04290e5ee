import Foundation
import JobStore
import Locking
import SQLite
import Locking
import Synchronization
import TestSupport
import Testing

@Suite struct SubmissionTests {
    /// A store in a fresh directory; call `dir.remove()` when done.
    private static func store() throws -> (SQLiteJobStore, TemporaryDirectory) {
        let dir = try TemporaryDirectory()
        return (try Fixtures.store(dir, clock: TestClock(Fixtures.epoch)), dir)
    }

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

    /// The job a submission created; records an issue and throws otherwise.
    private static func created(_ submission: Submission, sourceLocation: SourceLocation = #_sourceLocation) throws -> JobRecord {
        guard case .created(let job) = submission else {
            Issue.record("expected a new job, got \(submission)", sourceLocation: sourceLocation)
            throw JobStoreError("not created")
        }
        return job
    }

    private static func count(_ store: SQLiteJobStore) throws -> Int { try store.jobs(JobQuery(limit: 1000)).count }

    /// Finishes every task of `job` in `state` (succeeded, failed or cancelled).
    private static func finish(_ store: SQLiteJobStore, _ job: JobRecord, as state: JobState = .succeeded) throws {
        let taskState: TaskState =
            switch state {
            case .failed: .failed
            case .cancelled: .cancelled
            default: .succeeded
            }
        try store.record(jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: taskState) }, jobState: state)
    }

    // MARK: - Idempotency keys

    @Test("The same Idempotency-Key with the same request answers with the first job, stores nothing, and comes before other rules")
    func idempotencySameRequest() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let first = try Self.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        #expect(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()) == .existing(first, .idempotencyKey))
        // Every Fixtures job has the same identity: without the key this would be a refused duplicate.
        #expect(
            try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules(onDuplicate: .reject, maxUnfinished: 0))
                == .existing(first, .idempotencyKey))
        #expect(try Self.count(store) == 1)
        try Self.finish(store, first)
        let finished = try #require(try store.job(id: first.id))
        #expect(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()) == .existing(finished, .idempotencyKey))
        #expect(try Self.count(store) == 1)
        // No digest on either side counts as the same request.
        let undigested = try Self.created(try store.submit(Self.keyed("k2", digest: nil), rules: SubmissionRules()))
        #expect(try store.submit(Self.keyed("k2", digest: nil), rules: SubmissionRules()) == .existing(undigested, .idempotencyKey))
        #expect(try Self.count(store) == 2)
    }

    @Test("The same Idempotency-Key with a different request is refused and stores nothing")
    func idempotencyDifferentRequest() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let first = try Self.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        #expect(
            try store.submit(Self.keyed("k1", digest: "d2"), rules: SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(
            try store.submit(Self.keyed("k1", digest: nil), rules: SubmissionRules()) == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(
            try store.submit(Self.keyed("k1", digest: "d2"), rules: SubmissionRules(onDuplicate: .allow))
                == .refused(.idempotencyKeyReused(jobID: first.id)))
        #expect(try Self.count(store) == 1)
    }

    @Test("Idempotency keys are per caller: the same key from another user or identity source creates a job")
    func idempotencyPerCaller() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let alice = try Self.created(try store.submit(Self.keyed("k1", digest: "d1"), rules: SubmissionRules()))
        let bob = try Self.created(try store.submit(Self.keyed("k1", digest: "d1", user: "bob"), rules: SubmissionRules()))
        let aliceElsewhere = try Self.created(
            try store.submit(Self.keyed("k1", digest: "d1", source: "service_token"), rules: SubmissionRules()))
        let unkeyed = try Self.created(try store.submit(Self.keyed(nil, digest: "d1"), rules: SubmissionRules()))
        #expect(Set([alice.id, bob.id, aliceElsewhere.id, unkeyed.id]).count == 4)
        #expect(try store.submit(Self.keyed("k1", digest: "d1", user: "bob"), rules: SubmissionRules()) == .existing(bob, .idempotencyKey))
        #expect(try Self.count(store) == 4)
    }

    // MARK: - Duplicate policies

    @Test("Against an unfinished job of the same identity: return_existing answers with it, reject refuses, queue and allow create")
    func duplicatePolicies() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let first = try Self.created(try store.submit(Self.identified("x"), rules: SubmissionRules()))
        #expect(!first.waitsForIdentity)
        #expect(first.identity == "x")
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .returnExisting)) == .existing(first, .duplicate))
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .reject)) == .refused(.duplicate(jobID: first.id)))
        #expect(try Self.count(store) == 1)
        let queued = try Self.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .queue)))
        #expect(queued.waitsForIdentity)
        let allowed = try Self.created(try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .allow)))
        #expect(!allowed.waitsForIdentity)
        // The oldest unfinished duplicate answers.
        #expect(
            try store.submit(Self.identified("x"), rules: SubmissionRules(onDuplicate: .returnExisting)) == .existing(first, .duplicate))
        // Identity is scoped to the pipeline, and other identities are not duplicates.
        for policy in [DuplicatePolicy.returnExisting, .reject] {
            _ = try Self.created(try store.submit(Self.identified("y-\(policy)"), rules: SubmissionRules(onDuplicate: policy)))
            _ = try Self.created(
                try store.submit(Self.identified("x", pipeline: "other-\(policy)"), rules: SubmissionRules(onDuplicate: policy)))
        }
        #expect(try Self.count(store) == 7)
    }

    @Test("A running job is a duplicate too; a succeeded, failed or cancelled one is not")
    func duplicateOnlyWhileUnfinished() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        for policy in [DuplicatePolicy.returnExisting, .reject] {
            let running = try Self.created(try store.submit(Self.identified("run-\(policy)"), rules: SubmissionRules()))
            try store.record(jobID: running.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
            let submission = try store.submit(Self.identified("run-\(policy)"), rules: SubmissionRules(onDuplicate: policy))
            if policy == .reject {
                #expect(submission == .refused(.duplicate(jobID: running.id)))
            } else {
                #expect(submission == .existing(try #require(try store.job(id: running.id)), .duplicate))
            }
            for end in [JobState.succeeded, .failed, .cancelled] {
                let identity = "\(policy)-\(end)"
                let done = try Self.created(try store.submit(Self.identified(identity), rules: SubmissionRules()))
                try Self.finish(store, done, as: end)
                let again = try Self.created(try store.submit(Self.identified(identity), rules: SubmissionRules(onDuplicate: policy)))
                #expect(again.id != done.id)
            }
        }
    }

    // MARK: - Queue bound

    @Test("maxUnfinished refuses a pipeline's next job while it has that many unfinished, per pipeline")
    func queueBound() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let bounded = SubmissionRules(maxUnfinished: 2)
        let a = try Self.created(try store.submit(Fixtures.job(), rules: bounded))
        let b = try Self.created(try store.submit(Fixtures.job(), rules: bounded))
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)))
        try store.record(jobID: b.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)), "running jobs count")
        #expect(try Self.count(store) == 2)
        _ = try Self.created(try store.submit(Fixtures.job(pipeline: "other"), rules: bounded))
        // An unfinished duplicate answers before the bound is checked.
        #expect(
            try store.submit(Fixtures.job(), rules: SubmissionRules(onDuplicate: .returnExisting, maxUnfinished: 2))
                == .existing(a, .duplicate))
        try Self.finish(store, a)
        _ = try Self.created(try store.submit(Fixtures.job(), rules: bounded))
        #expect(try store.submit(Fixtures.job(), rules: bounded) == .refused(.queueFull(limit: 2)))
        #expect(
            try store.submit(Fixtures.job(pipeline: "fresh"), rules: SubmissionRules(maxUnfinished: 0)) == .refused(.queueFull(limit: 0)))
        #expect(try Self.count(store) == 4)
    }

    @Test("Eight concurrent submissions against a bound of 3 create exactly 3 jobs")
    func concurrentBound() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
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
        #expect(try Self.count(store) == 3)
    }

    @Test("Eight concurrent submissions with one Idempotency-Key create one job and answer the rest with it")
    func concurrentIdempotency() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
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
        #expect(try Self.count(store) == 1)
    }

    // MARK: - Batched commits

    @Test("A batch of updates across jobs is atomic: a bad task name in the second rolls back the first")
    func batchAtomic() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let one = try store.createJob(Fixtures.job())
        let two = try store.createJob(Fixtures.job())
        #expect(throws: (any Error).self) {
            try store.record([
                JobUpdate(jobID: one.id, changes: [TaskChange(task: "extract", state: .running, pid: 41)], jobState: .running),
                JobUpdate(
                    jobID: two.id,
                    changes: [
                        TaskChange(task: "extract", state: .running, pid: 42), TaskChange(task: "ghost", state: .failed, message: "x"),
                    ], jobState: .running),
            ])
        }
        #expect(try store.job(id: one.id) == one)
        #expect(try store.job(id: two.id) == two)
        // A task of another job is not a task of this one.
        #expect(throws: (any Error).self) {
            try store.record([
                JobUpdate(jobID: one.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running),
                JobUpdate(jobID: two.id + 100, changes: [TaskChange(task: "extract", state: .running)], jobState: .running),
            ])
        }
        #expect(try store.job(id: one.id) == one)
        // A good batch applies to both jobs.
        try store.record([
            JobUpdate(jobID: one.id, changes: [TaskChange(task: "extract", state: .running, pid: 41)], jobState: .running),
            JobUpdate(
                jobID: two.id,
                changes: [
                    TaskChange(task: "extract", state: .running, pid: 42),
                    TaskChange(task: "extract", state: .failed, exitCode: 1, message: "boom"),
                    TaskChange(task: "left", state: .skipped), TaskChange(task: "right", state: .skipped),
                    TaskChange(task: "load", state: .skipped),
                ], jobState: .failed),
        ])
        let after1 = try #require(try store.job(id: one.id))
        let after2 = try #require(try store.job(id: two.id))
        #expect(after1.state == .running && after1.task("extract")?.pid == 41)
        #expect(after2.state == .failed && after2.finishedAt != nil)
        #expect(after2.task("extract")?.state == .failed && after2.task("extract")?.message == "boom")
        try store.recordProcesses([(one.id, "extract", 51), (two.id, "extract", 52)])
        #expect(try store.job(id: one.id)?.task("extract")?.pid == 51)
        #expect(try store.job(id: two.id)?.task("extract")?.pid == 52)
    }

    @Test("Queueing a task for a retry stores its retry time, and starting it again clears it")
    func retryAtRoundTrip() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let job = try store.createJob(Fixtures.job())
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 7)], jobState: .running)
        let due = Date(timeIntervalSince1970: 1_700_000_123.456)
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "extract", state: .queued, exitCode: 3, message: "again", retryAt: due)],
            jobState: .running)
        let waiting = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(waiting.state == .queued && waiting.retryAt == due && waiting.exitCode == 3 && waiting.message == "again")
        #expect(waiting.attempt == 1 && waiting.finishedAt != nil)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 8)], jobState: .running)
        let again = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(again.state == .running && again.retryAt == nil && again.attempt == 2 && again.exitCode == nil && again.message == nil)
    }

    // MARK: - Round trips

    @Test("Task kinds and options round-trip, hostile strings included; default options are stored as NULL")
    func kindAndOptionsRoundTrip() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
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
        let raw = try Connection(path: dir.file("jobs.sqlite")).query(
            "SELECT name, kind, options FROM tasks WHERE job_id = ? ORDER BY position", [.integer(created.id)])
        #expect(raw.map { $0["kind"].text } == ["command", "noop", "command", "noop"])
        #expect(raw.map { $0["options"] == .null } == [false, true, true, false])
    }

    @Test("needs and argv round-trip with separators, quotes, backslashes, brackets, empty strings and control characters")
    func stringArraysRoundTrip() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let arrays: [[String]] = [
            [], [""], ["", ""], ["", "", ""], ["[]"], ["[", "]"], ["[\"x\"]"], ["\",\""], [","], [",", ","], ["a\",\"b", "c"],
            ["a\", \"b"], ["x\\", "\\y"], ["\\"], ["\\\",\\\""], ["\"]", "[\""], ["\""], ["\"\""], ["plain", "also plain", "ü ✓ 🚀"],
            ["a", "b", "c"], ["new\nline", "tab\there", "\r"], ["\u{1}", "\u{1F}"], ["\u{7F}", "\u{2028}\u{2029}"], ["]", "["],
            ["\",", ",\""], ["/bin/sh", "-c", "echo \"$1\" | sed 's/\\\\/x/'"], ["a\"", "b"], ["a", "\"b"], ["null"], ["[\"\"]"],
        ]
        var new = Fixtures.job()
        new.tasks = arrays.enumerated().map { i, array in
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
        for (task, expected) in zip(loaded.tasks, new.tasks) where task.needs != expected.needs || task.argv != expected.argv {
            Issue.record("\(expected.name.debugDescription): needs \(task.needs) argv \(task.argv), expected \(expected.argv)")
        }
        // Whatever path wrote them, the stored columns are valid JSON with the same strings.
        let raw = try Connection(path: dir.file("jobs.sqlite")).query(
            "SELECT needs, argv FROM tasks WHERE job_id = ? ORDER BY position", [.integer(created.id)])
        for (row, expected) in zip(raw, new.tasks) {
            for (column, values) in [("needs", expected.needs), ("argv", expected.argv)] {
                let text = try #require(row[column].text)
                let decoded = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
                #expect(decoded == values, "\(column) stored as \(text.debugDescription)")
            }
        }
        // Plain strings take the compact form.
        let plain = try #require(
            raw.first { (try? JSONDecoder().decode([String].self, from: Data(($0["argv"].text ?? "").utf8))) == ["a", "b", "c"] })
        #expect(plain["argv"].text == "[\"a\",\"b\",\"c\"]")
        #expect(raw.first?["argv"].text == "[]")
    }

    @Test("Columns written as plain JSON arrays by earlier versions (escaped slashes) still decode")
    func legacyArrayColumns() throws {
        let (store, dir) = try Self.store()
        defer { dir.remove() }
        let job = try store.createJob(Fixtures.job())
        let db = try Connection(path: dir.file("jobs.sqlite"))
        try db.run(
            "UPDATE tasks SET argv = ?, needs = ? WHERE job_id = ? AND name = 'load'",
            [.text(#"["\/bin\/sh","-c","echo \"hi\""]"#), .text(#"["left","right"]"#), .integer(job.id)])
        let load = try #require(try store.job(id: job.id)?.task("load"))
        #expect(load.argv == ["/bin/sh", "-c", "echo \"hi\""])
        #expect(load.needs == ["left", "right"])
    }
}

extension JobRecord {
    fileprivate func task(_ name: String) -> TaskRecord? { self.tasks.first { $0.name == name } }
}
