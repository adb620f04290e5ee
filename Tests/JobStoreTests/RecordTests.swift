import Foundation
import JobStore
import TestSupport
import Testing

/// `record`, `record(_:)` and `recordProcess(es)`: what the runner commits, against every store.
@Suite struct RecordTests {
    @Test("Recording running increments the attempt, sets the start time and starts the job", arguments: StoreKind.allCases)
    func recordRunning(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        clock.advance(by: 10)
        let started = clock.now
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 777)], jobState: .running)
        let loaded = try #require(try store.job(id: job.id))
        let extract = try #require(loaded.tasks.first { $0.name == "extract" })
        #expect(extract.state == .running)
        #expect(extract.attempt == 1)
        #expect(extract.pid == 777)
        #expect(extract.startedAt == started)
        #expect(extract.finishedAt == nil)
        #expect(loaded.state == .running)
        #expect(loaded.startedAt == started)
        #expect(loaded.finishedAt == nil)
        #expect(loaded.tasks.filter { $0.name != "extract" }.allSatisfy { $0.state == .queued && $0.attempt == 0 })
    }

    @Test(
        "One commit with several changes of one task applies them in order, and hostile messages are stored byte for byte",
        arguments: StoreKind.allCases)
    func orderedChangesAndHostileText(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let other = try store.createJob(Fixtures.job())
        let hostile = [
            #"a "quoted", {braced} \back\slashed"#, "NULL", "", "line\nbreak\ttab", "\u{212A}elvin \u{1F600}", "{}", #"\"#, ",",
        ]
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 1)], jobState: .running)
        // The runner's batched commit: extract fails and is queued for a retry, then claimed
        // again, in one commit; left and right of another job get hostile messages.
        let retryAt = clock.now.addingTimeInterval(30)
        try store.record([
            JobUpdate(
                jobID: job.id,
                changes: [
                    TaskChange(task: "extract", state: .queued, exitCode: 3, message: hostile[0], retryAt: retryAt),
                    TaskChange(task: "extract", state: .running, pid: 2, message: hostile[1]),
                    TaskChange(task: "extract", state: .failed, exitCode: 4, message: hostile[2]),
                ], jobState: .failed),
            JobUpdate(
                jobID: other.id,
                changes: hostile.indices.dropFirst(3).map { i in
                    TaskChange(
                        task: ["extract", "left", "right", "load", "extract"][i - 3], state: i == 7 ? .failed : .skipped,
                        message: hostile[i])
                }, jobState: .failed),
        ])
        let loaded = try #require(try store.job(id: job.id))
        let extract = try #require(loaded.task("extract"))
        #expect(extract.attempt == 2, "queued, then running again: one more attempt")
        #expect(extract.state == .failed)
        #expect(extract.exitCode == 4)
        #expect(extract.pid == 2)
        #expect(extract.message == "", "an empty message is a message, not none")
        #expect(extract.retryAt == nil)
        #expect(loaded.state == .failed)
        let second = try #require(try store.job(id: other.id))
        #expect(second.task("left")?.message?.utf8.elementsEqual(hostile[4].utf8) == true, "\(String(describing: second.task("left")))")
        #expect(second.task("right")?.message == hostile[5])
        #expect(second.task("load")?.message == hostile[6])
        #expect(second.task("extract")?.message == hostile[7], "the last of two changes of extract counts")
        #expect(second.task("extract")?.state == .failed)
    }

    @Test("Recording a terminal state sets the finish time, exit code and message", arguments: StoreKind.allCases)
    func recordTerminal(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        clock.advance(by: 5)
        let finished = clock.now
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .failed, exitCode: 3, message: "exited with status 3"),
                TaskChange(task: "left", state: .skipped, message: "upstream task extract failed"),
                TaskChange(task: "right", state: .skipped, message: "upstream task extract failed"),
                TaskChange(task: "load", state: .skipped, message: "upstream task left skipped"),
            ], jobState: .failed)
        let loaded = try #require(try store.job(id: job.id))
        let extract = try #require(loaded.tasks.first { $0.name == "extract" })
        #expect(extract.state == .failed)
        #expect(extract.exitCode == 3)
        #expect(extract.message == "exited with status 3")
        #expect(extract.finishedAt == finished)
        #expect(extract.attempt == 1)
        #expect(loaded.tasks.first { $0.name == "load" }?.message == "upstream task left skipped")
        #expect(loaded.tasks.first { $0.name == "left" }?.state == .skipped)
        #expect(loaded.tasks.first { $0.name == "left" }?.exitCode == nil)
        #expect(loaded.state == .failed)
        #expect(loaded.finishedAt == finished)
        #expect(loaded.startedAt == Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("Running again after a failure counts a new attempt and clears the previous result", arguments: StoreKind.allCases)
    func recordRetry(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 10)], jobState: .running)
        clock.advance(by: 1)
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "extract", state: .failed, exitCode: 1, message: "x")], jobState: .running)
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 11)], jobState: .running)
        let extract = try #require(try store.job(id: job.id)?.tasks.first { $0.name == "extract" })
        #expect(extract.attempt == 2)
        #expect(extract.pid == 11)
        #expect(extract.exitCode == nil)
        #expect(extract.message == nil)
        #expect(extract.finishedAt == nil)
        #expect(extract.startedAt == clock.now)
    }

    @Test("A terminal change without a message keeps the message the task already had", arguments: StoreKind.allCases)
    func messageKept(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "extract", state: .running, message: "attempt 1 of 3")], jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)
        let extract = try #require(try store.job(id: job.id)?.tasks.first { $0.name == "extract" })
        #expect(extract.message == "attempt 1 of 3")
        #expect(extract.state == .succeeded)
        #expect(extract.exitCode == 0)
    }

    @Test("The job's start time is set once, and its finish time only while it is terminal", arguments: StoreKind.allCases)
    func jobTimestamps(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        // A change that leaves the job queued does not start it.
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [TaskChange(task: "load", state: .queued, message: "waiting")], jobState: .queued)
        #expect(try store.job(id: job.id)?.startedAt == nil)
        #expect(try store.job(id: job.id)?.tasks.first?.message == "waiting")
        clock.advance(by: 1)
        let t1 = clock.now
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)
        clock.advance(by: 1)
        try store.record(jobID: job.id, changes: [TaskChange(task: "left", state: .running)], jobState: .running)
        var loaded = try #require(try store.job(id: job.id))
        #expect(loaded.startedAt == t1)
        #expect(loaded.finishedAt == nil)
        clock.advance(by: 1)
        let t2 = clock.now
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "left", state: .cancelled), TaskChange(task: "right", state: .cancelled),
                TaskChange(task: "load", state: .cancelled),
            ],
            jobState: .cancelled)
        loaded = try #require(try store.job(id: job.id))
        #expect(loaded.state == .cancelled)
        #expect(loaded.startedAt == t1)
        #expect(loaded.finishedAt == t2)
    }

    @Test("A change for an unknown task throws and rolls back the whole batch", arguments: StoreKind.allCases)
    func unknownTaskRollsBack(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let before = try #require(try store.job(id: job.id))
        clock.advance(by: 1)
        #expect(throws: (any Error).self) {
            try store.record(
                jobID: job.id,
                changes: [TaskChange(task: "extract", state: .running, pid: 5), TaskChange(task: "ghost", state: .running)],
                jobState: .running)
        }
        #expect(try store.job(id: job.id) == before)
        // The writer is still usable after the rollback.
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        #expect(try store.job(id: job.id)?.state == .running)
    }

    @Test("A change for a job that does not exist throws", arguments: StoreKind.allCases)
    func unknownJob(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        #expect(throws: (any Error).self) {
            try store.record(jobID: job.id + 1, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        }
        #expect(try store.job(id: job.id + 1) == nil)
        #expect(try store.job(id: job.id)?.tasks.allSatisfy { $0.state == .queued } == true)
    }

    @Test("recordProcess stores the pid of the task it names, and only that task", arguments: StoreKind.allCases)
    func recordProcess(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        let other = try store.createJob(Fixtures.job())
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        #expect(try store.job(id: job.id)?.tasks.first { $0.name == "extract" }?.pid == nil)
        try store.recordProcess(jobID: job.id, task: "extract", pid: 31337)
        let tasks = try #require(try store.job(id: job.id)?.tasks)
        #expect(tasks.first { $0.name == "extract" }?.pid == 31337)
        #expect(tasks.filter { $0.name != "extract" }.allSatisfy { $0.pid == nil })
        #expect(try store.job(id: other.id)?.tasks.allSatisfy { $0.pid == nil } == true)
        #expect(tasks.first { $0.name == "extract" }?.state == .running)
    }

    @Test("unfinishedJobs lists only queued and running jobs, oldest first, without tasks", arguments: StoreKind.allCases)
    func unfinished(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        var ids: [JobState: Int64] = [:]
        for state in [JobState.succeeded, .queued, .failed, .running, .cancelled] {
            let job = try store.createJob(Fixtures.job())
            ids[state] = job.id
            switch state {
            case .queued: break
            case .running:
                try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
            default:
                let task: TaskState = state == .failed ? .failed : (state == .cancelled ? .cancelled : .succeeded)
                let changes = ["extract", "left", "right", "load"].map { TaskChange(task: $0, state: task) }
                try store.record(jobID: job.id, changes: changes, jobState: state)
            }
        }
        let unfinished = try store.unfinishedJobs()
        #expect(unfinished.map(\.id) == [ids[.queued]!, ids[.running]!])
        #expect(unfinished.map(\.state) == [.queued, .running])
        #expect(unfinished.allSatisfy { $0.tasks.isEmpty })
    }

    @Test("A batch of updates across jobs is atomic: a bad task name in the second rolls back the first", arguments: StoreKind.allCases)
    func batchAtomic(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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

    @Test("Queueing a task for a retry stores its retry time, and starting it again clears it", arguments: StoreKind.allCases)
    func retryAtRoundTrip(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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

    @Test(
        "A change's own finish time is kept (an outcome recorded while Sluice was down); the job's is the commit's",
        arguments: StoreKind.allCases)
    func finishedAtHonoured(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(
            jobID: job.id, changes: ["extract", "left", "right", "load"].map { TaskChange(task: $0, state: .running) }, jobState: .running)
        let ended = clock.now.addingTimeInterval(2.5)
        clock.advance(by: 60)
        // A terminal change with its own time keeps it; one without takes the commit's.
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .succeeded, exitCode: 0, finishedAt: ended),
                TaskChange(task: "left", state: .failed, exitCode: 1),
            ], jobState: .running)
        var loaded = try #require(try store.job(id: job.id))
        #expect(loaded.task("extract")?.finishedAt == ended)
        #expect(loaded.task("left")?.finishedAt == clock.now)
        #expect(loaded.finishedAt == nil)
        // Queued for a retry: its own time if given, else now. Queued without a retry time: none.
        let due = clock.now.addingTimeInterval(30)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "left", state: .queued, exitCode: 1, retryAt: due, finishedAt: ended),
                TaskChange(task: "right", state: .queued, exitCode: 2, retryAt: due),
                TaskChange(task: "load", state: .queued, message: "waiting", finishedAt: ended),
            ], jobState: .running)
        loaded = try #require(try store.job(id: job.id))
        #expect(loaded.task("left")?.finishedAt == ended && loaded.task("left")?.retryAt == due)
        #expect(loaded.task("right")?.finishedAt == clock.now && loaded.task("right")?.exitCode == 2)
        #expect(loaded.task("load")?.finishedAt == nil && loaded.task("load")?.retryAt == nil)
        // A terminal job finishes at the commit, whatever its tasks' times.
        clock.advance(by: 5)
        try store.record(
            jobID: job.id,
            changes: ["left", "right", "load"].map { TaskChange(task: $0, state: .cancelled, finishedAt: ended) }, jobState: .cancelled)
        loaded = try #require(try store.job(id: job.id))
        #expect(loaded.tasks.allSatisfy { $0.finishedAt == ended })
        #expect(loaded.finishedAt == clock.now)
    }

    @Test("recordProcesses stores several pids in one call; an empty list changes nothing", arguments: StoreKind.allCases)
    func recordProcesses(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "left", state: .running), TaskChange(task: "right", state: .running)],
            jobState: .running)
        try store.recordProcesses([])
        let before = try #require(try store.job(id: job.id))
        try store.recordProcesses([(job.id, "left", 71), (job.id, "right", 72)])
        let after = try #require(try store.job(id: job.id))
        #expect(after.task("left")?.pid == 71 && after.task("right")?.pid == 72)
        #expect(after.task("extract")?.pid == nil && after.task("load")?.pid == nil)
        #expect(after.state == before.state && after.task("left")?.attempt == before.task("left")?.attempt)
        try store.record([])
        #expect(try store.job(id: job.id) == after)
    }
}
