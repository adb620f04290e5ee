import Foundation
import JobStore
import TestSupport
import Testing

extension SQLiteJobStoreTests {
    @Test("Recording running increments the attempt, sets the start time and starts the job")
    func recordRunning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
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

    @Test("Recording a terminal state sets the finish time, exit code and message")
    func recordTerminal() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
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

    @Test("Running again after a failure counts a new attempt and clears the previous result")
    func recordRetry() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
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

    @Test("A terminal change without a message keeps the message the task already had")
    func messageKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let job = try store.createJob(Fixtures.job())
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "extract", state: .running, message: "attempt 1 of 3")], jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)
        let extract = try #require(try store.job(id: job.id)?.tasks.first { $0.name == "extract" })
        #expect(extract.message == "attempt 1 of 3")
        #expect(extract.state == .succeeded)
        #expect(extract.exitCode == 0)
    }

    @Test("The job's start time is set once, and its finish time only while it is terminal")
    func jobTimestamps() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
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

    @Test("A change for an unknown task throws and rolls back the whole batch")
    func unknownTaskRollsBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(Fixtures.epoch)
        let store = try Fixtures.store(dir, clock: clock)
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

    @Test("A change for a job that does not exist throws")
    func unknownJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
        let job = try store.createJob(Fixtures.job())
        #expect(throws: (any Error).self) {
            try store.record(jobID: job.id + 1, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        }
        #expect(try store.job(id: job.id + 1) == nil)
        #expect(try store.job(id: job.id)?.tasks.allSatisfy { $0.state == .queued } == true)
    }

    @Test("recordProcess stores the pid of the task it names, and only that task")
    func recordProcess() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
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

    @Test("unfinishedJobs lists only queued and running jobs, oldest first, without tasks")
    func unfinished() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Fixtures.store(dir, clock: TestClock(Fixtures.epoch))
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
}
