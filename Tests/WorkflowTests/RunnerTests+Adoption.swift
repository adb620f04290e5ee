import Foundation
import JobStore
import Supervisor
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Tasks outlive the runner: a stop leaves them under their supervisors, and the next runner on
/// the same store re-adopts them (real supervisors, real processes, real signals).
@Suite("Re-adoption")
struct AdoptionTests {
    /// A script that prints "before", waits until `file` exists, prints "after" and exits `code`.
    static func waitsFor(_ file: String, exit code: Int32 = 0) -> [String] {
        sh("echo before; while [ ! -e \"$1\" ]; do sleep 0.05; done; echo after; exit \(code)", file)
    }

    static func task(_ name: String, needs: [String] = [], _ argv: [String], _ options: TaskOptions = .standard) -> TaskRecord {
        TaskRecord(name: name, needs: needs, argv: argv, options: options)
    }

    static func touch(_ path: String) { _ = FileManager.default.createFile(atPath: path, contents: nil) }

    /// Waits until `task` runs and its log shows "before", then stops the runner (tasks stay).
    static func stopWhileRunning(_ h: RunnerHarness, _ job: JobRecord, _ task: String) throws {
        _ = try #require(try h.job(job.id) { $0.task(task)?.state == .running && $0.task(task)?.pid != nil })
        #expect(Poll.blockingUntil(within: .seconds(10)) { h.log(job, task) == "before\n" })
        h.stop()
    }

    @Test("A stop leaves the task running; the next runner re-adopts it, records its real exit code and starts its dependents")
    func readopt() throws {
        let h = try RunnerHarness(stopTasksOnExit: false)
        defer { h.tearDown() }
        h.start()
        let go = h.dir.file("go")
        let job = try h.submit(records: [
            Self.task("long", Self.waitsFor(go, exit: 0)), Self.task("next", needs: ["long"], sh("echo next")),
        ])
        try Self.stopWhileRunning(h, job, "long")
        let group = try h.taskGroup(job, "long")
        let stopped = try #require(try h.store.job(id: job.id))
        #expect(stopped.task("long")?.state == .running)
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "the task must survive the runner's stop")

        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        #expect(Poll.blockingUntil(within: .seconds(10)) { next.activity.runningTasks == 1 })
        Self.touch(go)
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("long")?.attempt == 1, "never interrupted, never run twice")
        #expect(done.task("long")?.exitCode == 0)
        #expect(h.log(done, "long") == "before\nafter\n", "one continuous log across the restart")
        #expect(h.log(done, "next") == "next\n")
    }

    @Test("A task that finishes while no runner runs is recorded with its own exit code and finish time")
    func finishedWhileDown() throws {
        let h = try RunnerHarness(stopTasksOnExit: false)
        defer { h.tearDown() }
        h.start()
        let go = h.dir.file("go")
        let job = try h.submit(records: [Self.task("t", Self.waitsFor(go, exit: 3)), Self.task("after", needs: ["t"], sh("exit 0"))])
        try Self.stopWhileRunning(h, job, "t")
        Self.touch(go)
        var journal = StatusJournal(path: Runner.journalPath(logDirectory: h.configuration.logDirectory, jobID: job.id))
        let key = ProcessIdentity.runKey(logDirectory: h.configuration.logDirectory, jobID: job.id, task: "t", attempt: 1)
        var outcome: SupervisorStatus? = nil
        #expect(
            Poll.blockingUntil(within: .seconds(10)) {
                if outcome == nil { outcome = try? journal.take(runKey: key) }
                return outcome != nil
            })
        let finished = try #require(outcome)
        usleep(300_000)  // the runner's own clock must be later than the task's end

        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        let done = try #require(try h.finishedJob(job.id))
        let t = try #require(done.task("t"))
        #expect(t.state == .failed)
        #expect(t.exitCode == 3)
        #expect(t.message == "exited with status 3")
        #expect(t.attempt == 1)
        let recorded = try #require(t.finishedAt)
        #expect(abs(recorded.timeIntervalSince(finished.finishedAt)) < 0.002, "\(recorded) vs \(finished.finishedAt)")
        #expect(done.task("after")?.state == .skipped)
    }

    @Test("A re-adopted task still times out, through its supervisor")
    func timeoutAfterAdoption() throws {
        let h = try RunnerHarness(gracePeriod: 0.5, stopTasksOnExit: false)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [Self.task("slow", sh("echo before; exec sleep 30"), TaskOptions(timeout: 2))])
        try Self.stopWhileRunning(h, job, "slow")
        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("slow")?.state == .failed)
        #expect(done.task("slow")?.message == "timed out after 2.0 s")
        #expect(done.task("slow")?.exitCode == 128 + SIGTERM)
    }

    @Test("A re-adopted task is cancelled through its supervisor, its whole group stopped")
    func cancelAfterAdoption() throws {
        let h = try RunnerHarness(stopTasksOnExit: false)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [Self.task("long", sh("echo before; sleep 30 & sleep 30; wait"))])
        try Self.stopWhileRunning(h, job, "long")
        let group = try h.taskGroup(job, "long")
        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        #expect(Poll.blockingUntil(within: .seconds(10)) { next.activity.runningTasks == 1 })
        _ = try h.store.requestCancel(jobID: job.id)
        next.wake()
        let done = try #require(try h.finishedJob(job.id, within: .seconds(10)))
        #expect(done.state == .cancelled)
        #expect(done.task("long")?.exitCode == 128 + SIGTERM)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: group).isEmpty })
    }

    @Test("A supervisor killed with SIGKILL takes its task's group with it, and the task is retried per its policy")
    func supervisorKilled() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let marker = h.dir.file("ran-once")
        let script = "echo before; if [ -e \"$1\" ]; then echo second; exit 0; fi; touch \"$1\"; sleep 30 & sleep 30; wait"
        let retry = RetryPolicy(retries: 1, initialDelay: 0.05, factor: 1, maxDelay: 0.05, jitter: 0)
        let job = try h.submit(records: [Self.task("t", sh(script, marker), TaskOptions(retry: retry))])
        let running = try #require(try h.job(job.id) { $0.task("t")?.state == .running && $0.task("t")?.pid != nil })
        let supervisor = try #require(running.task("t")?.pid)
        let group = try h.taskGroup(job, "t")
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: group).count >= 3 })
        kill(supervisor, SIGKILL)
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("t")?.attempt == 2)
        #expect(h.log(done, "t", attempt: 2) == "before\nsecond\n")
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: group).isEmpty })
    }

    @Test("After a restart a concurrency-1 pipeline's re-adopted job keeps its slot: the next job waits for it")
    func concurrencyAcrossRestart() throws {
        let h = try RunnerHarness(limits: Runner.Limits(concurrency: ["test": 1]), stopTasksOnExit: false)
        defer { h.tearDown() }
        h.start()
        let go = h.dir.file("go")
        let trace = h.dir.file("trace")
        let first = try h.submit(records: [
            Self.task(
                "a", sh("echo before; echo start-a >> \"$2\"; while [ ! -e \"$1\" ]; do sleep 0.05; done; echo end-a >> \"$2\"", go, trace))
        ])
        try Self.stopWhileRunning(h, first, "a")
        let second = try h.createJob(records: [Self.task("b", sh("echo start-b >> \"$1\"", trace))])
        let next = Runner(store: h.store, configuration: h.configuration, limits: Runner.Limits(concurrency: ["test": 1]))
        next.start()
        defer { next.stop() }
        #expect(Poll.blockingUntil(within: .seconds(10)) { next.activity.runningTasks == 1 })
        usleep(500_000)
        #expect(try h.store.job(id: second.id)?.state == .queued, "the second job must wait for the re-adopted one")
        Self.touch(go)
        #expect(try h.finishedJob(first.id)?.state == .succeeded)
        #expect(try h.finishedJob(second.id)?.state == .succeeded)
        #expect(h.lines(of: trace) == ["start-a", "end-a", "start-b"])
    }

    @Test("After an upgrade, an attempt whose supervisor (of the earlier Sluice) wrote a status file of its own is settled from it")
    func legacyStatusFile() throws {
        let h = try RunnerHarness(stopTasksOnExit: false)
        defer { h.tearDown() }
        let job = try h.createJob(records: [Self.task("t", sh("echo should not run again"))])
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "t", state: .running)], jobState: .running)
        let logs = h.configuration.logDirectory
        let key = ProcessIdentity.runKey(logDirectory: logs, jobID: job.id, task: "t", attempt: 1)
        let path = Runner.legacyStatusPath(logDirectory: logs, jobID: job.id, task: "t", attempt: 1)
        try FileManager.default.createDirectory(atPath: "\(logs)/\(job.id)", withIntermediateDirectories: true)
        let text = "version=1\nrun_key=\(key)\nstarted_at_ms=1000\nfinished_at_ms=2000\nexit_status=5\nlog_bytes=0\nlog_omitted=0\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("t")?.state == .failed)
        #expect(done.task("t")?.exitCode == 5)
        #expect(done.task("t")?.attempt == 1, "settled from the status file, not run again")
        #expect(done.task("t")?.finishedAt == Date(timeIntervalSince1970: 2))
    }

    @Test("A task whose attempt never started (no supervisor, no status) is retried, not waited for")
    func lostAttemptRetried() throws {
        let h = try RunnerHarness(stopTasksOnExit: false)
        defer { h.tearDown() }
        let retry = RetryPolicy(retries: 1, initialDelay: 0.05, factor: 1, maxDelay: 0.05, jitter: 0)
        let job = try h.createJob(records: [Self.task("t", sh("echo ran"), TaskOptions(retry: retry))])
        // A crash between the claim's commit and the supervisor's start.
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "t", state: .running)], jobState: .running)
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("t")?.attempt == 2)
        #expect(h.log(done, "t", attempt: 2) == "ran\n")
    }
}
