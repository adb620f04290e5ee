import Foundation
import JobStore
import TestSupport
import Testing

/// A decision and its audit record commit together: if the record cannot be written, the action
/// does not happen (an outside review saw a 202 for a job whose audit insert had failed).
@Suite("Audit records commit with their decision")
struct AuditWithDecisionTests {
    private func record(_ event: String) -> AuditRecord {
        AuditRecord(
            at: Date(), event: event, allowed: true, user: "bob", identitySource: "remote_user", pipeline: "etl", jobID: nil,
            reason: "roles.ops.grants[0]", requestID: "r1", clientAddress: "127.0.0.1", configHash: "abc")
    }

    @Test("A created job's audit record carries the new job's id, in the same commit", arguments: StoreKind.allCases)
    func createdWithRecord(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        guard case .created(let job) = try store.submit(Fixtures.job(), rules: SubmissionRules(), audit: self.record("trigger")) else {
            Issue.record("not created")
            return
        }
        let records = try store.auditRecords(AuditQuery())
        #expect(records.map(\.event) == ["trigger"])
        #expect(records.first?.jobID == job.id)
        // An answered or refused submission writes no record.
        #expect(
            try store.submit(Fixtures.job(), rules: SubmissionRules(maxUnfinished: 1), audit: self.record("refused"))
                == .refused(.queueFull(limit: 1)))
        #expect(
            try store.submit(Fixtures.job(), rules: SubmissionRules(onDuplicate: .returnExisting), audit: self.record("existing"))
                == .existing(job, .duplicate))
        #expect(try store.auditRecords(AuditQuery()).map(\.event) == ["trigger"])
    }

    @Test(
        "If the audit record cannot be written, no job is created, no cancel is recorded and no retry happens",
        arguments: StoreKind.allCases)
    func nothingWithoutRecord(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let finished = try store.createJob(Fixtures.job())
        try store.record(
            jobID: finished.id, changes: finished.tasks.map { TaskChange(task: $0.name, state: .failed, exitCode: 1) }, jobState: .failed)
        let queued = try store.createJob(Fixtures.job(params: ["date": "2024-05-02"]))
        try h.breakAuditInserts()

        #expect(throws: (any Error).self) { try store.submit(Fixtures.job(), rules: SubmissionRules(), audit: self.record("trigger")) }
        #expect(try store.jobs(JobQuery()).count == 2)
        #expect(throws: (any Error).self) { try store.requestCancel(jobID: queued.id, audit: self.record("cancel")) }
        #expect(try store.job(id: queued.id)?.cancelRequested == false)
        #expect(throws: (any Error).self) { try store.retry(jobID: finished.id, audit: self.record("retry")) }
        #expect(try store.job(id: finished.id)?.state == .failed)
        #expect(try store.auditRecords(AuditQuery()).isEmpty)
        // Without a record to write, the same actions go through: the audit insert was the cause.
        #expect(try store.requestCancel(jobID: queued.id)?.cancelRequested == true)
    }
}
