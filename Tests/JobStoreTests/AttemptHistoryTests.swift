import Foundation
import JobStore
import TestSupport
import Testing

/// Every attempt of a task is kept: the latest in the task's own fields, earlier ones in
/// `pastAttempts`, against every store.
@Suite struct AttemptHistoryTests {
    @Test("A retried task keeps each earlier attempt's times, exit code, note and outcome, oldest first", arguments: StoreKind.allCases)
    func retriesByPolicy(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let t0 = clock.now
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 10)], jobState: .running)
        #expect(try store.job(id: job.id)?.task("extract")?.pastAttempts == [], "one attempt: nothing in the history")
        clock.advance(by: 2)
        let retryAt = clock.now.addingTimeInterval(5)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(
                    task: "extract", state: .queued, exitCode: 75, message: "exited with status 75; \"retry\" 2 of 3", retryAt: retryAt)
            ],
            jobState: .running)
        let waiting = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(waiting.pastAttempts == [], "the attempt that just ended is still the task's own until the next starts")
        #expect(waiting.startedAt == t0 && waiting.finishedAt == t0.addingTimeInterval(2) && waiting.retryAt == retryAt)
        clock.advance(by: 5)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 11)], jobState: .running)
        clock.advance(by: 1)
        try store.record(
            jobID: job.id,
            changes: [TaskChange(task: "extract", state: .queued, exitCode: 137, message: "killed by signal 9", retryAt: clock.now)],
            jobState: .running)
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 12)], jobState: .running)
        clock.advance(by: 3)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)

        let task = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(task.attempt == 3 && task.state == .succeeded && task.exitCode == 0)
        #expect(task.startedAt == t0.addingTimeInterval(9) && task.finishedAt == t0.addingTimeInterval(12))
        #expect(
            task.pastAttempts == [
                PastAttempt(
                    attempt: 1, startedAt: t0, finishedAt: t0.addingTimeInterval(2), exitCode: 75,
                    message: "exited with status 75; \"retry\" 2 of 3", state: .queued),
                PastAttempt(
                    attempt: 2, startedAt: t0.addingTimeInterval(7), finishedAt: t0.addingTimeInterval(8), exitCode: 137,
                    message: "killed by signal 9", state: .queued),
            ])
        // Other tasks are untouched.
        #expect(try store.job(id: job.id)?.task("left")?.pastAttempts == [])
    }

    @Test("A person's retry moves the failed attempt to the history; the next start does not add it twice", arguments: StoreKind.allCases)
    func retryByPerson(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let t0 = clock.now
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        clock.advance(by: 1)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .failed, exitCode: 1, message: "exited with status 1"),
                TaskChange(task: "left", state: .skipped), TaskChange(task: "right", state: .skipped),
                TaskChange(task: "load", state: .skipped),
            ], jobState: .failed)
        clock.advance(by: 10)
        _ = try #require(try store.retry(jobID: job.id))
        let requeued = try #require(try store.job(id: job.id))
        let extract = try #require(requeued.task("extract"))
        #expect(extract.state == .queued && extract.startedAt == nil && extract.attempt == 1)
        #expect(
            extract.pastAttempts == [
                PastAttempt(
                    attempt: 1, startedAt: t0, finishedAt: t0.addingTimeInterval(1), exitCode: 1, message: "exited with status 1",
                    state: .failed)
            ])
        #expect(requeued.task("left")?.pastAttempts == [], "a skipped task never ran: no attempt to keep")
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        let again = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(again.attempt == 2 && again.pastAttempts.count == 1)
        #expect(again.startedAt == t0.addingTimeInterval(11))
    }

    @Test(
        "A task cancelled while it waits for its retry keeps the attempt that failed, not the cancel's time and note",
        arguments: StoreKind.allCases)
    func cancelledWhileWaiting(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let t0 = clock.now
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        clock.advance(by: 2)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(
                    task: "extract", state: .queued, exitCode: 75, message: "exited with status 75", retryAt: t0.addingTimeInterval(600))
            ],
            jobState: .running)
        clock.advance(by: 60)
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "extract", state: .cancelled, message: "job cancelled")], jobState: .cancelled)
        let task = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(task.state == .cancelled && task.startedAt == nil && task.finishedAt == t0.addingTimeInterval(62))
        #expect(
            task.pastAttempts == [
                PastAttempt(
                    attempt: 1, startedAt: t0, finishedAt: t0.addingTimeInterval(2), exitCode: 75, message: "exited with status 75",
                    state: .queued)
            ])
        // A person's retry then adds nothing more: the task has no started attempt of its own.
        _ = try #require(try store.retry(jobID: job.id))
        #expect(try store.job(id: job.id)?.task("extract")?.pastAttempts.count == 1)
        // A running task that ends keeps its attempt as its own (nothing is archived).
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .failed, exitCode: 1)], jobState: .failed)
        let ended = try #require(try store.job(id: job.id)?.task("extract"))
        #expect(ended.pastAttempts.count == 1 && ended.startedAt != nil && ended.exitCode == 1 && ended.attempt == 2)
    }

    @Test("The attempt history column decodes what the stores write and refuses anything else")
    func column() throws {
        #expect(try PastAttemptsColumn.decode(nil) == [])
        #expect(try PastAttemptsColumn.decode("[]") == [])
        let decoded = try PastAttemptsColumn.decode(
            #"[[1, 1700000000000, null, null, null, "queued"], [2,1700000001500,1700000002000,1,"a \"b\"","failed"]]"#)
        #expect(
            decoded == [
                PastAttempt(
                    attempt: 1, startedAt: Date(timeIntervalSince1970: 1_700_000_000), finishedAt: nil, exitCode: nil, message: nil,
                    state: .queued),
                PastAttempt(
                    attempt: 2, startedAt: Date(timeIntervalSince1970: 1_700_000_001.5),
                    finishedAt: Date(timeIntervalSince1970: 1_700_000_002), exitCode: 1, message: "a \"b\"", state: .failed),
            ])
        for bad in [
            "{}", "[1]", "[[1,2,3]]", #"[[1, 2, null, null, null, "exploded"]]"#, #"[[1.5, 2, null, null, null, "failed"]]"#,
            #"[["1", 2, null, null, null, "failed"]]"#, #"[[1, 1e300, null, null, null, "failed"]]"#, "[[", "not json",
        ] {
            #expect(throws: JobStoreError.self, "\(bad)") { try PastAttemptsColumn.decode(bad) }
        }
    }
}
