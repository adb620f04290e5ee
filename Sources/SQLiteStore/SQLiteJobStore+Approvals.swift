public import Foundation
public import JobStore
import SQLite

/// Jobs that wait for approvers (`ApprovalRequirement`, `ApprovalDecision`).
extension SQLiteJobStore {
    public func decideApproval(jobID: Int64, _ decision: ApprovalDecision, audit: AuditRecord?) throws -> ApprovalOutcome {
        let step = try self.write { db -> ApprovalStep in
            guard
                let row = try db.query("SELECT state, approvals_required, approval_expires_at FROM jobs WHERE id = ?", [.integer(jobID)])
                    .first
            else { return .notFound }
            guard row[0].text == JobState.awaitingApproval.rawValue, let required = row[1].int64, let expires = row[2].int64 else {
                return .notAwaiting
            }
            // Past its time the job has expired, whether or not the expiry pass has seen it yet.
            if expires <= StoredTime.milliseconds(decision.at) {
                if try Self.endAwaiting(jobID, as: .expired, message: ApprovalEnd.expired, at: decision.at, in: db), let audit {
                    try Self.insertAudit(ApprovalEnd.expiryRecord(from: audit, jobID: jobID), into: db)
                }
                return .notAwaiting
            }
            // One decision per person: the primary key (job_id, approver) compares bytes (BINARY).
            try db.run(
                """
                INSERT INTO approvals (job_id, approver, identity_source, approves, comment, at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (job_id, approver) DO NOTHING
                """,
                [
                    .integer(jobID), .text(decision.approver), .text(decision.identitySource), .integer(decision.approves ? 1 : 0),
                    .text(decision.comment), .integer(StoredTime.milliseconds(decision.at)),
                ])
            guard db.changes == 1 else { return .alreadyDecided }
            if !decision.approves {
                _ = try Self.endAwaiting(
                    jobID, as: .rejected, message: ApprovalEnd.rejected(by: decision.approver), at: decision.at, in: db)
            } else {
                let approvals =
                    try db.query("SELECT count(*) FROM approvals WHERE job_id = ? AND approves = 1", [.integer(jobID)])
                    .first?[0].int64 ?? 0
                if approvals >= required {
                    try db.run("UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'awaiting_approval'", [.integer(jobID)])
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
        // Asked every few seconds: a read first, so an idle pass never takes the writer's turn.
        let due = try self.read { db in
            try db.query(
                "SELECT 1 FROM jobs WHERE state = 'awaiting_approval' AND approval_expires_at <= ? LIMIT 1",
                [.integer(StoredTime.milliseconds(now))]
            ).isEmpty == false
        }
        guard due else { return [] }
        let ids = try self.write { db -> [Int64] in
            let due = try db.query(
                "SELECT id, pipeline FROM jobs WHERE state = 'awaiting_approval' AND approval_expires_at <= ? ORDER BY id",
                [.integer(StoredTime.milliseconds(now))])
            var ended: [Int64] = []
            for row in due {
                guard let id = row[0].int64 else { continue }
                guard try Self.endAwaiting(id, as: .expired, message: ApprovalEnd.expired, at: now, in: db) else { continue }
                var record = audit
                record.jobID = id
                record.pipeline = row[1].text
                try Self.insertAudit(record, into: db)
                ended.append(id)
            }
            return ended
        }
        return try ids.compactMap { try self.job(id: $0) }
    }

    /// Ends the job `id` as `state` if it awaits approval: its tasks cancelled with `message`, a
    /// job event, the finish time. Returns whether it did (false: the job does not wait).
    static func endAwaiting(_ id: Int64, as state: JobState, message: String, at now: Date, in db: Connection) throws -> Bool {
        let at = SQLValue.integer(StoredTime.milliseconds(now))
        try db.run(
            "INSERT INTO job_events (job_id, pipeline, state, at) SELECT id, pipeline, ?, ? FROM jobs WHERE id = ? AND state = 'awaiting_approval'",
            [.text(state.rawValue), at, .integer(id)])
        guard db.changes == 1 else { return false }
        try db.run(
            "UPDATE tasks SET state = 'cancelled', message = ?, finished_at = ? WHERE job_id = ? AND state = 'queued'",
            [.text(message), at, .integer(id)])
        try db.run("UPDATE jobs SET state = ?, finished_at = ? WHERE id = ?", [.text(state.rawValue), at, .integer(id)])
        return true
    }

    /// The job's decisions, oldest first.
    static func approvals(of id: Int64, in db: Connection) throws -> [ApprovalDecision] {
        try db.query(
            "SELECT approver, identity_source, approves, comment, at FROM approvals WHERE job_id = ? ORDER BY at, approver",
            [.integer(id)]
        ).map { row in
            guard let approver = row[0].text, let source = row[1].text, let approves = row[2].int64, let comment = row[3].text,
                let at = row[4].int64
            else { throw JobStoreError("malformed approval of job \(id)") }
            return ApprovalDecision(
                approver: approver, identitySource: source, approves: approves == 1, comment: comment, at: StoredTime.date(milliseconds: at)
            )
        }
    }
}
