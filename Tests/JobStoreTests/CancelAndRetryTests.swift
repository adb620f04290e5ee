import Foundation
import JobStore
import TestSupport
import Testing

/// `requestCancel` and `retry`, against every store.
@Suite struct CancelAndRetryTests {
    @Test("requestCancel flags an unfinished job and returns it", arguments: StoreKind.allCases)
    func cancelUnfinished(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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

    @Test("requestCancel leaves a finished job unchanged, and returns nil for a missing one", arguments: StoreKind.allCases)
    func cancelFinishedOrMissing(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
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

    @Test("requestCancel writes its audit record only when it flags the job", arguments: StoreKind.allCases)
    func cancelAudit(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let finished = try store.createJob(Fixtures.job())
        try Fixtures.finish(store, finished)
        let queued = try store.createJob(Fixtures.job())
        #expect(try store.requestCancel(jobID: finished.id, audit: Fixtures.audit("cancel-finished"))?.cancelRequested == false)
        #expect(try store.requestCancel(jobID: queued.id + 100, audit: Fixtures.audit("cancel-missing")) == nil)
        #expect(try store.requestCancel(jobID: queued.id, audit: Fixtures.audit("cancel"))?.cancelRequested == true)
        #expect(try store.auditRecords(AuditQuery()).map(\.event) == ["cancel"])
    }

    @Test(
        "retry re-queues a failed job's failed, skipped and cancelled tasks, keeping attempts and succeeded tasks",
        arguments: StoreKind.allCases)
    func retryFailed(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        try store.record(
            jobID: job.id,
            changes: [TaskChange(task: "extract", state: .running, pid: 5), TaskChange(task: "right", state: .running, pid: 6)],
            jobState: .running)
        _ = try store.requestCancel(jobID: job.id)
        clock.advance(by: 1)
        try store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .succeeded, exitCode: 0, message: "fine"),
                TaskChange(task: "right", state: .failed, exitCode: 3, message: "exited with status 3"),
                TaskChange(task: "left", state: .cancelled, message: "cancelled"),
                TaskChange(task: "load", state: .skipped, message: "upstream task right failed"),
            ], jobState: .failed)
        let before = try #require(try store.job(id: job.id))
        #expect(before.state == .failed && before.finishedAt != nil && before.cancelRequested)
        clock.advance(by: 1)
        let retried = try #require(try store.retry(jobID: job.id, audit: Fixtures.audit("retry")))
        #expect(retried == (try store.job(id: job.id)))
        // A task had succeeded: the run goes on from there.
        #expect(retried.state == .running)
        #expect(retried.cancelRequested == false)
        #expect(retried.finishedAt == nil)
        #expect(retried.startedAt == before.startedAt)
        #expect(retried.task("extract") == before.task("extract"), "a succeeded task is left alone")
        for name in ["right", "left", "load"] {
            let task = try #require(retried.task(name))
            let old = try #require(before.task(name))
            #expect(task.state == .queued, "\(name)")
            #expect(task.attempt == old.attempt, "\(name) keeps its attempts")
            #expect(task.exitCode == nil && task.pid == nil && task.finishedAt == nil && task.retryAt == nil, "\(name)")
            #expect(task.message == JobRetry.message, "\(name)")
            // The attempt that ended moves to the task's history; the task itself has not started again.
            #expect(task.startedAt == nil, "\(name)")
            if let started = old.startedAt {
                #expect(
                    task.pastAttempts.last
                        == PastAttempt(
                            attempt: old.attempt, startedAt: started, finishedAt: old.finishedAt, exitCode: old.exitCode,
                            message: old.message, state: old.state), "\(name)")
            } else {
                #expect(task.pastAttempts.isEmpty, "\(name) never ran")
            }
        }
        #expect(try store.auditRecords(AuditQuery()).map(\.event) == ["retry"])
        #expect(try store.unfinishedJobs().map(\.id) == [job.id])
    }

    @Test("retry of a cancelled job where nothing succeeded puts the job back to queued", arguments: StoreKind.allCases)
    func retryCancelled(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let job = try store.createJob(Fixtures.job())
        _ = try store.requestCancel(jobID: job.id)
        try Fixtures.finish(store, job, as: .cancelled)
        let retried = try #require(try store.retry(jobID: job.id))
        #expect(retried.state == .queued)
        #expect(retried.cancelRequested == false)
        #expect(retried.tasks.allSatisfy { $0.state == .queued && $0.attempt == 0 && $0.message == JobRetry.message })
    }

    @Test(
        "retry returns nil, changes nothing and writes no audit record for a queued, running, succeeded or missing job",
        arguments: StoreKind.allCases)
    func retryRefused(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let queued = try store.createJob(Fixtures.job())
        let running = try store.createJob(Fixtures.job())
        try store.record(jobID: running.id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        let succeeded = try store.createJob(Fixtures.job())
        try Fixtures.finish(store, succeeded)
        for id in [queued.id, running.id, succeeded.id] {
            let before = try store.job(id: id)
            #expect(try store.retry(jobID: id, audit: Fixtures.audit("retry")) == nil)
            #expect(try store.job(id: id) == before)
        }
        #expect(try store.retry(jobID: succeeded.id + 100, audit: Fixtures.audit("retry")) == nil)
        #expect(try store.auditRecords(AuditQuery()).isEmpty)
    }
}
