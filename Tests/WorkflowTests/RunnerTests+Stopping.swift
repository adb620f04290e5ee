import Foundation
import JobStore
import Supervisor
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

extension RunnerTests {
    /// The process group of `task` once it runs and its supervisor's pid is recorded.
    private static func runningPID(_ h: RunnerHarness, _ job: JobRecord, _ task: String) throws -> Int32 {
        _ = try #require(try h.job(job.id) { $0.task(task)?.state == .running && $0.task(task)?.pid != nil })
        return try h.taskGroup(job, task)
    }

    @Test("Cancelling a running job stops its process group and cancels the job")
    func cancelRunning() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("long", [], sh("sleep 30 & sleep 30; wait")), ("after", ["long"], sh("exit 0"))])
        let pid = try Self.runningPID(h, job, "long")
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).count >= 3 })
        let requested = try #require(try h.store.requestCancel(jobID: job.id))
        #expect(requested.cancelRequested)
        h.runner.wake()
        let done = try #require(try h.finishedJob(job.id, within: .seconds(5)))
        #expect(done.state == .cancelled)
        #expect(done.task("long")?.state == .cancelled)
        #expect(done.task("long")?.exitCode == 128 + SIGTERM)
        #expect(done.task("after")?.state == .cancelled)
        #expect(done.task("after")?.attempt == 0)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("A task that ignores SIGTERM is killed after the grace period when cancelled")
    func cancelEscalates() throws {
        let h = try RunnerHarness(gracePeriod: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("stubborn", [], sh("trap '' TERM; echo ready; sleep 30"))])
        let pid = try Self.runningPID(h, job, "stubborn")
        #expect(Poll.blockingUntil(within: .seconds(10)) { h.log(job, "stubborn") == "ready\n" })
        _ = try h.store.requestCancel(jobID: job.id)
        h.runner.wake()
        let done = try #require(try h.finishedJob(job.id, within: .seconds(10)))
        #expect(done.state == .cancelled)
        #expect(done.task("stubborn")?.exitCode == 128 + SIGKILL)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("Cancelling a job that has not started cancels all its tasks while other jobs keep running")
    func cancelQueuedJob() throws {
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        h.start()
        let busy = try h.submit([("hold", [], sh("sleep 1"))])
        _ = try Self.runningPID(h, busy, "hold")
        let waiting = try h.submit([("x", [], sh("exit 0")), ("y", ["x"], sh("exit 0"))])
        _ = try h.store.requestCancel(jobID: waiting.id)
        h.runner.wake()
        let cancelled = try #require(try h.finishedJob(waiting.id, within: .seconds(5)))
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.tasks.allSatisfy { $0.state == .cancelled && $0.attempt == 0 })
        #expect(try h.store.job(id: busy.id)?.state == .running)
        #expect(try h.finishedJob(busy.id)?.state == .succeeded)
    }

    @Test("stop() while a task runs records it as interrupted and leaves no process behind")
    func stopInterrupts() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("long", [], sh("sleep 30 & sleep 30; wait")), ("after", ["long"], sh("exit 0"))])
        let pid = try Self.runningPID(h, job, "long")
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).count >= 3 })
        let before = ContinuousClock.now
        h.stop()
        #expect(ContinuousClock.now - before < .seconds(5))
        let done = try #require(try h.store.job(id: job.id))
        #expect(done.task("long")?.state == .failed)
        #expect(done.task("long")?.message?.contains("interrupted") == true)
        #expect(done.task("long")?.exitCode == 128 + SIGTERM)
        #expect(done.task("after")?.attempt == 0)
        #expect(done.task("after")?.state != .running && done.task("after")?.state != .succeeded)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("stop() kills a task that ignores SIGTERM after the grace period")
    func stopEscalates() throws {
        let h = try RunnerHarness(gracePeriod: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("stubborn", [], sh("trap '' TERM; echo ready; sleep 30"))])
        let pid = try Self.runningPID(h, job, "stubborn")
        #expect(Poll.blockingUntil(within: .seconds(10)) { h.log(job, "stubborn") == "ready\n" })
        let before = ContinuousClock.now
        h.stop()
        #expect(ContinuousClock.now - before < .seconds(10))
        let task = try #require(try h.store.job(id: job.id)?.task("stubborn"))
        #expect(task.state == .failed)
        #expect(task.exitCode == 128 + SIGKILL)
        #expect(task.message?.contains("interrupted") == true)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("A new runner on the same store resumes the tasks a stopped runner had not started")
    func resumeAfterStop() throws {
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("first", [], sh("sleep 30")), ("second", [], sh("echo ran"))])
        _ = try Self.runningPID(h, job, "first")
        h.stop()
        let stopped = try #require(try h.store.job(id: job.id))
        #expect(stopped.state == .running)
        #expect(stopped.task("first")?.state == .failed)
        #expect(stopped.task("second")?.state == .queued)
        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("second")?.state == .succeeded)
        #expect(h.log(done, "second") == "ran\n")
        #expect(done.task("first")?.attempt == 1)
        #expect(done.state == .failed)
    }

    @Test("On start, a task left running by a dead process is failed as interrupted and its downstream skipped")
    func recoveryDeadProcess() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let job = try h.createJob([("a", [], sh("exit 0")), ("b", ["a"], sh("exit 0")), ("c", [], sh("exit 0"))])
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "a", state: .running)], jobState: .running)
        try h.store.recordProcess(jobID: job.id, task: "a", pid: try ProcessTable.deadProcessID())
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)
        #expect(done.task("a")?.state == .failed)
        #expect(done.task("a")?.message?.contains("interrupted") == true)
        #expect(done.task("a")?.attempt == 1)
        #expect(done.task("b")?.state == .skipped)
        #expect(done.task("c")?.state == .succeeded)
    }

    @Test("On start, a surviving task process from an earlier run is killed before its task is failed")
    func recoveryKillsSurvivor() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let job = try h.createJob([("a", [], sh("exit 0"))])
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "a", state: .running)], jobState: .running)
        // A task process (not a session leader, so not a supervisor) carrying the attempt's run key.
        let key = ProcessIdentity.runKey(logDirectory: h.configuration.logDirectory, jobID: job.id, task: "a", attempt: 1)
        let survivor = try ChildProcess(path: "/bin/sleep", arguments: ["30"], environment: ["SLUICE_RUN_KEY": key])
        try h.store.recordProcess(jobID: job.id, task: "a", pid: survivor.pid)
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("a")?.message?.contains("interrupted") == true)
        let result = survivor.waitBlocking(timeout: .seconds(10))
        #expect(result.signal == SIGKILL)
    }

    @Test("On start, a live process with the recorded pid that carries no run key is left alone")
    func recoveryIgnoresReusedPID() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let job = try h.createJob([("a", [], sh("exit 0"))])
        // The task "started" an hour ago; the live process with its pid started just now.
        h.clockOffset.set(-3600)
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "a", state: .running)], jobState: .running)
        h.clockOffset.set(0)
        let stranger = try ChildProcess(path: "/bin/sleep", arguments: ["30"])
        let pid = stranger.pid
        defer { stranger.terminate(signal: SIGKILL) }
        try h.store.recordProcess(jobID: job.id, task: "a", pid: pid)
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("a")?.state == .failed)
        usleep(200_000)
        #expect(!ProcessTable.isGone(pid))
    }
}
