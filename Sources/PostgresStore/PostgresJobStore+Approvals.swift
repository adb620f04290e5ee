public import Foundation
public import JobStore
import Postgres

/// Jobs that wait for approvers (`ApprovalRequirement`, `ApprovalDecision`), shared by every
/// host of the store.
extension PostgresJobStore {
    public func decideApproval(jobID: Int64, _ decision: ApprovalDecision, audit: AuditRecord?) throws -> ApprovalOutcome {
        let namespace = self.namespace
        let channel = self.channel
        let step = try self.write { db -> ApprovalStep in
            // FOR UPDATE: two approvers deciding at once are taken one after the other, so the
            // second sees the first's decision (and a rejection ends the job for both).
            guard
                let row = try db.execute(
                    "SELECT state, approvals_required, approval_expires_at FROM jobs WHERE id = $1 FOR UPDATE", [.int64(jobID)]
                ).first
            else { return .notFound }
            guard try row.string(0) == JobState.awaitingApproval.rawValue, let required = try row.int64(1),
                let expires = try row.int64(2)
            else { return .notAwaiting }
            // Past its time the job has expired, whether or not an expiry pass has seen it yet.
            if expires <= StoredTime.milliseconds(decision.at) {
                try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
                if try Self.endAwaiting(jobID, as: .expired, message: ApprovalEnd.expired, at: decision.at, in: db), let audit {
                    try Self.insertAudit(ApprovalEnd.expiryRecord(from: audit, jobID: jobID), into: db)
                }
                try Self.notifyChange(on: channel, in: db)
                return .notAwaiting
            }
            // One decision per person: the primary key (job_id, approver) compares bytes (COLLATE "C").
            let inserted =
                try db.execute(
                    """
                    INSERT INTO approvals (job_id, approver, identity_source, approves, comment, at) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (job_id, approver) DO NOTHING
                    """,
                    [
                        .int64(jobID), .text(decision.approver), .text(decision.identitySource), .bool(decision.approves),
                        .text(decision.comment), .int64(StoredTime.milliseconds(decision.at)),
                    ]
                ).affectedRows ?? 0
            guard inserted == 1 else { return .alreadyDecided }
            try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
            if !decision.approves {
                _ = try Self.endAwaiting(
                    jobID, as: .rejected, message: ApprovalEnd.rejected(by: decision.approver), at: decision.at, in: db)
            } else {
                let approvals =
                    try db.execute("SELECT count(*) FROM approvals WHERE job_id = $1 AND approves", [.int64(jobID)]).first?.int64(0) ?? 0
                if approvals >= required {
                    try db.execute("UPDATE jobs SET state = 'queued' WHERE id = $1 AND state = 'awaiting_approval'", [.int64(jobID)])
                    // A job to run: some host may claim it.
                    try Self.notifyChange(on: channel, in: db)
                }
            }
            if var audit {
                audit.jobID = jobID
                try Self.insertAudit(audit, into: db)
            }
            return .recorded
        }
        return step.outcome(try self.job(id: jobID))
    }

    public func expireApprovals(now: Date, audit: AuditRecord) throws -> [JobRecord] {
        let namespace = self.namespace
        let channel = self.channel
        let ids = try self.write { db -> [Int64] in
            // SKIP LOCKED: a job an approver is deciding about right now is left to that decision.
            let due = try db.execute(
                """
                SELECT id, pipeline FROM jobs WHERE state = 'awaiting_approval' AND approval_expires_at <= $1
                ORDER BY id FOR UPDATE SKIP LOCKED
                """, [.int64(StoredTime.milliseconds(now))])
            guard !due.isEmpty else { return [] }
            try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
            var ended: [Int64] = []
            for row in due {
                guard let id = try row.int64(0) else { continue }
                guard try Self.endAwaiting(id, as: .expired, message: ApprovalEnd.expired, at: now, in: db) else { continue }
                var record = audit
                record.jobID = id
                record.pipeline = try row.string(1)
                try Self.insertAudit(record, into: db)
                ended.append(id)
            }
            // Other hosts' long-polls on these jobs wake up.
            if !ended.isEmpty { try Self.notifyChange(on: channel, in: db) }
            return ended
        }
        return try ids.compactMap { try self.job(id: $0) }
    }

    /// Ends the job `id` as `state` if it awaits approval: its tasks cancelled with `message`, a
    /// job event, the finish time. The caller holds the job's row lock and the insert-order lock.
    /// Returns whether it did (false: the job does not wait).
    static func endAwaiting(_ id: Int64, as state: JobState, message: String, at now: Date, in db: PostgresConnection) throws -> Bool {
        let at = PostgresValue.int64(StoredTime.milliseconds(now))
        let changed =
            try db.execute(
                "UPDATE jobs SET state = $1, finished_at = $2 WHERE id = $3 AND state = 'awaiting_approval' RETURNING pipeline",
                [.text(state.rawValue), at, .int64(id)])
        guard let pipeline = try changed.first?.string(0) else { return false }
        try db.execute(
            "UPDATE tasks SET state = 'cancelled', message = $1, finished_at = $2 WHERE job_id = $3 AND state = 'queued'",
            [.text(message), at, .int64(id)])
        try db.execute(
            "INSERT INTO job_events (job_id, pipeline, state, at) VALUES ($1, $2, $3, $4)",
            [.int64(id), .text(pipeline), .text(state.rawValue), at])
        return true
    }

    /// The job's decisions, oldest first.
    static func approvals(of id: Int64, in db: PostgresConnection) throws -> [ApprovalDecision] {
        try db.execute(
            "SELECT approver, identity_source, approves, comment, at FROM approvals WHERE job_id = $1 ORDER BY at, approver",
            [.int64(id)]
        ).map { row in
            guard let approver = try row.string(0), let source = try row.string(1), let approves = try row.bool(2),
                let comment = try row.string(3), let at = try row.int64(4)
            else { throw JobStoreError("malformed approval of job \(id)") }
            return ApprovalDecision(
                approver: approver, identitySource: source, approves: approves, comment: comment, at: StoredTime.date(milliseconds: at))
        }
    }
}
