import Foundation
import JobStore

/// A store whose every operation fails, for testing how the app reports internal errors.
struct FailingJobStore: JobStore {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk on fire at /secret/path" }
    }

    func createJob(_ job: NewJob) throws -> JobRecord { throw Failure() }
    func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission { throw Failure() }
    func job(id: Int64) throws -> JobRecord? { throw Failure() }
    func jobOverview(id: Int64) throws -> JobOverview? { throw Failure() }
    func scheduleMarks() throws -> [ScheduleMark] { throw Failure() }
    func jobEvents(after id: Int64, limit: Int) throws -> [JobEvent] { throw Failure() }
    func eventCursor(_ consumer: String) throws -> Int64? { throw Failure() }
    func pruneJobEvents(limit: Int) throws -> Int { throw Failure() }
    func advanceEventCursor(_ consumer: String, to id: Int64?) throws -> Int64 { throw Failure() }
    func moveScheduleMark(from expected: ScheduleMark?, to mark: ScheduleMark) throws -> Bool { throw Failure() }
    func jobs(_ query: JobQuery) throws -> [JobRecord] { throw Failure() }
    func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? { throw Failure() }
    func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? { throw Failure() }
    func appendAudit(_ record: AuditRecord) throws { throw Failure() }
    func auditRecords(_ query: AuditQuery) throws -> [AuditRecord] { throw Failure() }
    func unfinishedJobs() throws -> [JobRecord] { throw Failure() }
    func recordProcess(jobID: Int64, task: String, pid: Int32) throws { throw Failure() }
    func record(jobID: Int64, changes: [TaskChange], jobState: JobState) throws { throw Failure() }
    func enqueueDeliveries(_ deliveries: [NewDelivery], consumer: String, through eventID: Int64) throws { throw Failure() }
    func claimDueDeliveries(now: Date, limit: Int, claimUntil: Date) throws -> [Delivery] { throw Failure() }
    func recordDeliveryAttempt(id: Int64, claimedUntil: Date?, _ attempt: DeliveryAttempt) throws -> Bool { throw Failure() }
    func deliveries(_ query: DeliveryQuery) throws -> [Delivery] { throw Failure() }
    func redeliver(id: Int64, at: Date, audit: AuditRecord?) throws -> Delivery? { throw Failure() }
    func pruneDeliveries(finishedBefore before: Date, limit: Int) throws -> Int { throw Failure() }
    func decideApproval(jobID: Int64, _ decision: ApprovalDecision, audit: AuditRecord?) throws -> ApprovalOutcome { throw Failure() }
    func expireApprovals(now: Date, audit: AuditRecord) throws -> [JobRecord] { throw Failure() }
}
