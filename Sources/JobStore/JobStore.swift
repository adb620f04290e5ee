public import Foundation

/// Durable job state. Every method commits before it returns, so a caller may act on (or
/// acknowledge) a change as soon as the call returns. Implementations are thread-safe.
///
/// This target holds no database: the protocol, its records and the rules every implementation
/// applies alike (`SubmissionDecision`, `RecordRules`, `JobRetry`, the column encodings such as
/// `StringArrayColumn`, `StoredTime`). Stores live in their own targets (`SQLiteStore`), and
/// nothing above this protocol may assume one of them. Names, users, identities and keys are
/// compared as bytes: canonically equivalent strings (`K` and the Kelvin sign) are different.
public protocol JobStore: Sendable {
    /// Inserts a job and all its tasks (state `queued`) in one transaction.
    func createJob(_ job: NewJob) throws -> JobRecord

    /// Checks the job against the idempotency key, the duplicate policy and the pipeline's queue
    /// bound, and inserts it if they allow, all in one transaction (so two concurrent triggers
    /// cannot both pass a check that only one of them may pass). What the checks decide is
    /// `SubmissionDecision`; a created job is answered with `JobRecord(inserted:...)`.
    ///
    /// `audit`, if given, is the record of the decision to create the job: it is inserted in the
    /// same transaction (with the new job's id), so a job is never created without its audit
    /// record. If the record cannot be written, nothing is.
    func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission

    /// `submit(_:rules:audit:)` for a caller that must not wait on its thread (a parked HTTP
    /// request): `completion` gets what that would return or throw, once the job is committed or
    /// refused, from any thread. By default it submits at once, on the calling thread; a store
    /// with a committer of its own queues the job and answers from there.
    func submit(
        _ job: NewJob, rules: SubmissionRules, audit: AuditRecord?, completion: @escaping @Sendable (Result<Submission, any Error>) -> Void)

    /// Whether `submit(_:rules:audit:completion:)` returns at once and commits on a thread of the
    /// store's own (false: it submits on the calling thread, which then waits as for `submit`).
    var hasCommitter: Bool { get }

    /// Asks the store to call `observer` with each job a submission creates, as the submission
    /// returns it, once its transaction has committed and before its submitter is answered;
    /// from the thread that committed it (while it holds the store's writer: `observer` must
    /// be quick and must not call the store). Replaces any earlier observer. Returns false if
    /// the store does not do this (then nothing is called).
    ///
    /// Why: the runner takes a new job without reading it back (`Runner.wake(created:)`), but
    /// a submitter answered by the committer hands it over only after its answer; under load the
    /// runner's next pass had often listed the job before then and read it (4 % of a trigger's
    /// CPU in a profile).
    func observeCreatedJobs(_ observer: @escaping @Sendable (JobRecord) -> Void) -> Bool

    /// The job with its tasks, or nil.
    func job(id: Int64) throws -> JobRecord?

    /// The overview kept for a finished job whose tasks have layers (`JobOverview`), its rows
    /// read with the job row in one snapshot; nil if there is no such job or none is kept (the
    /// job has not finished, was created without layers, or by a version that kept none).
    func jobOverview(id: Int64) throws -> JobOverview?

    /// Jobs matching the query, newest first, without tasks.
    func jobs(_ query: JobQuery) throws -> [JobRecord]

    /// The job's stamp (state, start and finish times) without its tasks, or nil if there is no
    /// such job. A default implementation reads it through `jobs(_:)`.
    func jobStamp(id: Int64) throws -> JobStamp?

    /// Marks a queued or running job as cancel-requested, with `audit` (if given) in the same
    /// transaction. Returns the job (unchanged if it had already finished), or nil if there is no
    /// such job.
    func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord?

    /// Re-queues the tasks of a failed or cancelled job that did not succeed, keeping their
    /// attempt counts, and clears the cancel request (the rules are `JobRetry`). Returns the job,
    /// or nil if it is missing or not failed or cancelled (checked in the same transaction).
    /// `audit`, if given, is inserted in the same transaction when the retry happens.
    func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord?

    /// Jobs not yet finished, oldest first, without tasks: the runner's work list.
    func unfinishedJobs() throws -> [JobRecord]

    /// Records the process id of a task that was just started (its `running` state was
    /// committed before the process was spawned).
    func recordProcess(jobID: Int64, task: String, pid: Int32) throws

    /// Applies task changes and sets the job's state, in one transaction, as `RecordRules`
    /// describes; a change for a task the job does not have throws and changes nothing.
    func record(jobID: Int64, changes: [TaskChange], jobState: JobState) throws

    /// Applies the changes of several jobs in one transaction: the runner's batched commit.
    func record(_ updates: [JobUpdate]) throws

    /// Records the process ids of tasks just started, in one transaction.
    func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)]) throws

    /// Appends an audit record (committed before returning). Records are never changed.
    func appendAudit(_ record: AuditRecord) throws

    /// Appends several audit records in one transaction, in order (committed before returning).
    func appendAudit(_ records: [AuditRecord]) throws

    /// Audit records matching the query, newest first.
    func auditRecords(_ query: AuditQuery) throws -> [AuditRecord]

    /// Every schedule's kept mark, by name (bytes) order.
    func scheduleMarks() throws -> [ScheduleMark]

    /// Replaces the mark of `mark.name` with `mark` if the kept one is still `expected` (nil:
    /// none is kept), in one statement; false if it is not (another host moved it first, or
    /// this one's view is stale), and nothing changes then.
    func moveScheduleMark(from expected: ScheduleMark?, to mark: ScheduleMark) throws -> Bool

    /// Job events (`JobEvent`) with ids above `id`, oldest first, at most `limit`.
    func jobEvents(after id: Int64, limit: Int) throws -> [JobEvent]

    /// Where the reader `consumer` stopped: the id of the last event it has handled; nil if it
    /// never said.
    func eventCursor(_ consumer: String) throws -> Int64?

    /// Records that `consumer` has handled every event up to `id` (a cursor only moves forward:
    /// a lower id changes nothing). With `id` nil, a reader without a cursor gets one at the
    /// latest event (a new reader does not replay the history), and one with a cursor keeps it.
    /// - Returns: the cursor after the call.
    @discardableResult
    func advanceEventCursor(_ consumer: String, to id: Int64?) throws -> Int64

    /// Deletes job events every reader has passed (ids up to the lowest cursor), at most
    /// `limit` of them, oldest first; nothing while no reader has a cursor.
    /// - Returns: how many were deleted.
    @discardableResult
    func pruneJobEvents(limit: Int) throws -> Int

    /// Creates `deliveries` (one per event and webhook: a pair that exists already is left as
    /// it is) and moves the cursor of `consumer` to `eventID`, in one transaction, so an event is
    /// either passed with its deliveries made or not passed at all.
    func enqueueDeliveries(_ deliveries: [NewDelivery], consumer: String, through eventID: Int64) throws

    /// Up to `limit` pending deliveries due at `now`, oldest due first, each claimed until
    /// `claimUntil` (its next attempt moves there, so another pass or host does not send it
    /// meanwhile; the outcome of the attempt replaces that time).
    func claimDueDeliveries(now: Date, limit: Int, claimUntil: Date) throws -> [Delivery]

    /// Records an attempt of the delivery `id`: one more attempt, its status and error, and what
    /// comes next. Changes nothing (false) if there is no such delivery, it is not pending, or
    /// (with `claimedUntil`, the claim the attempt was made under) the claim is no longer this
    /// one's: it ran out and another pass or host claimed the delivery again, or an admin asked
    /// for another attempt. So a late outcome never overwrites a newer one.
    @discardableResult
    func recordDeliveryAttempt(id: Int64, claimedUntil: Date?, _ attempt: DeliveryAttempt) throws -> Bool

    /// Deliveries matching the query, newest first.
    func deliveries(_ query: DeliveryQuery) throws -> [Delivery]

    /// Makes a failed delivery pending again, due at `at` (an admin's "deliver again"), with
    /// `audit` in the same transaction; a pending one is only made due at `at`. Returns the
    /// delivery afterwards, nil if there is none (nothing is written then); a delivered one is
    /// returned unchanged.
    func redeliver(id: Int64, at: Date, audit: AuditRecord?) throws -> Delivery?

    /// Deletes delivered and failed deliveries whose last attempt was before `before`, at most
    /// `limit`, oldest first. Returns how many were deleted.
    @discardableResult
    func pruneDeliveries(finishedBefore before: Date, limit: Int) throws -> Int

    /// Records `decision` about the job `jobID`, which must await approval and have no decision
    /// by the same approver (compared as bytes), with `audit` in the same transaction. A
    /// rejection ends the job `rejected` (its tasks cancelled, `ApprovalEnd.rejected`, a job
    /// event); the approval that makes `required` queues it for the runner. A decision at or
    /// after the job's `expiresAt` finds it expired: the job ends `expired` (with a copy of
    /// `audit` as the expiry's record, `ApprovalEnd.expiryRecord`) and the answer is
    /// `notAwaiting`.
    func decideApproval(jobID: Int64, _ decision: ApprovalDecision, audit: AuditRecord?) throws -> ApprovalOutcome

    /// Ends every job that still awaits approval at `now` past its `expiresAt` as `expired` (its
    /// tasks cancelled, `ApprovalEnd.expired`), each with a job event and a copy of `audit`
    /// naming it, in one transaction. Returns the jobs ended.
    func expireApprovals(now: Date, audit: AuditRecord) throws -> [JobRecord]
}

/// The changes of one job in a batched commit.
public struct JobUpdate: Sendable {
    /// The job.
    public var jobID: Int64
    /// Its task changes, in order.
    public var changes: [TaskChange]
    /// Its state afterwards.
    public var jobState: JobState

    /// Creates an update.
    public init(jobID: Int64, changes: [TaskChange], jobState: JobState) {
        self.jobID = jobID
        self.changes = changes
        self.jobState = jobState
    }
}

extension JobStore {
    /// Appends the records one transaction each (stores may do better).
    public func appendAudit(_ records: [AuditRecord]) throws {
        for record in records { try self.appendAudit(record) }
    }

    /// Applies the changes of several jobs, one transaction per job (stores may do better).
    public func record(_ updates: [JobUpdate]) throws {
        for update in updates { try self.record(jobID: update.jobID, changes: update.changes, jobState: update.jobState) }
    }

    /// Records process ids one by one (stores may do better).
    public func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)]) throws {
        for p in processes { try self.recordProcess(jobID: p.jobID, task: p.task, pid: p.pid) }
    }

    /// Creates the job without any submission rule.
    public func createJob(_ job: NewJob) throws -> JobRecord {
        guard case .created(let record) = try self.submit(job, rules: SubmissionRules()) else {
            throw JobStoreError("job was not created")
        }
        return record
    }
}

/// An error of the job store that is not the database's own (e.g. corrupt stored JSON).
public struct JobStoreError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let reason: String

    /// Creates an error.
    public init(_ reason: String) { self.reason = reason }

    public var description: String { "job store: \(self.reason)" }
}

extension JobStore {
    /// False: `submit(_:rules:audit:completion:)` submits on the calling thread.
    public var hasCommitter: Bool { false }

    /// False: created jobs are not reported (see the requirement).
    public func observeCreatedJobs(_ observer: @escaping @Sendable (JobRecord) -> Void) -> Bool { false }

    /// Submits on the calling thread and then calls `completion` (see the requirement).
    public func submit(
        _ job: NewJob, rules: SubmissionRules, audit: AuditRecord?, completion: @escaping @Sendable (Result<Submission, any Error>) -> Void
    ) {
        completion(Result { try self.submit(job, rules: rules, audit: audit) })
    }

    /// The job's stamp (state, start and finish times) without its tasks, or nil if there is no
    /// such job; what a cache of finished jobs' representations checks before it answers.
    /// Stores may read it more cheaply than this.
    public func jobStamp(id: Int64) throws -> JobStamp? {
        try self.jobs(JobQuery(ids: [id])).first.map(JobStamp.init(of:))
    }

    /// `submit(_:rules:audit:)` without an audit record (the runner's and tests' own jobs).
    public func submit(_ job: NewJob, rules: SubmissionRules) throws -> Submission {
        try self.submit(job, rules: rules, audit: nil)
    }

    /// `requestCancel(jobID:audit:)` without an audit record.
    public func requestCancel(jobID: Int64) throws -> JobRecord? { try self.requestCancel(jobID: jobID, audit: nil) }

    /// `retry(jobID:audit:)` without an audit record.
    public func retry(jobID: Int64) throws -> JobRecord? { try self.retry(jobID: jobID, audit: nil) }
}
