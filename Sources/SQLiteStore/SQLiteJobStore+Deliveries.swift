public import Foundation
public import JobStore
import SQLite

/// The webhook deliveries' outbox (`Delivery`).
extension SQLiteJobStore {
    /// The columns `delivery(_:)` reads, in its order.
    static let deliveryColumns = """
        id, event_id, job_id, pipeline, webhook, event, body, state, attempts, created_at, next_attempt_at,
        last_attempt_at, last_status, last_error
        """

    public func enqueueDeliveries(_ deliveries: [NewDelivery], consumer: String, through eventID: Int64) throws {
        let now = StoredTime.milliseconds(self.now())
        try self.write { db in
            for d in deliveries {
                // The pair (event, webhook) is unique: an event handed out again makes no second delivery.
                try db.run(
                    """
                    INSERT INTO deliveries (event_id, job_id, pipeline, webhook, event, body, created_at, next_attempt_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, webhook) DO NOTHING
                    """,
                    [
                        .integer(d.eventID), .integer(d.jobID), .text(d.pipeline), .text(d.webhook), .text(d.event), .text(d.body),
                        .integer(now), .integer(now),
                    ])
            }
            try db.run(
                """
                INSERT INTO event_cursors (consumer, event_id) VALUES (?, ?)
                ON CONFLICT (consumer) DO UPDATE SET event_id = max(event_id, excluded.event_id)
                """, [.text(consumer), .integer(eventID)])
        }
    }

    public func claimDueDeliveries(now: Date, limit: Int, claimUntil: Date) throws -> [Delivery] {
        // Asked every second: a read first, so an idle notifier never takes the writer's turn
        // from triggers.
        let due = try self.read { db in
            try db.query(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
                [.integer(StoredTime.milliseconds(now))]
            ).isEmpty == false
        }
        guard due else { return [] }
        return try self.write { db in
            try db.query(
                """
                UPDATE deliveries SET next_attempt_at = ?
                WHERE id IN (
                    SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
                RETURNING \(Self.deliveryColumns)
                """,
                [.integer(StoredTime.milliseconds(claimUntil)), .integer(StoredTime.milliseconds(now)), .integer(Int64(max(0, limit)))]
            ).map(Self.delivery).sorted { $0.id < $1.id }
        }
    }

    @discardableResult
    public func recordDeliveryAttempt(id: Int64, claimedUntil: Date?, _ attempt: DeliveryAttempt) throws -> Bool {
        let (state, next) = attempt.stateAndNext
        let claim = claimedUntil.map { SQLValue.integer(StoredTime.milliseconds($0)) } ?? .null
        return try self.write { db in
            try db.run(
                """
                UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?,
                    state = ?, next_attempt_at = ?
                WHERE id = ? AND state = 'pending' AND (? IS NULL OR next_attempt_at = ?)
                """,
                [
                    .integer(StoredTime.milliseconds(attempt.at)), attempt.status.map { .integer(Int64($0)) } ?? .null,
                    attempt.keptError.map { .text($0) } ?? .null, .text(state.rawValue), .integer(StoredTime.milliseconds(next)),
                    .integer(id), claim, claim,
                ])
            return db.changes == 1
        }
    }

    public func deliveries(_ query: DeliveryQuery) throws -> [Delivery] {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        if let state = query.state {
            conditions.append("state = ?")
            arguments.append(.text(state.rawValue))
        }
        if let pipeline = query.pipeline {
            // SQLite compares TEXT as bytes (BINARY collation): "K" and U+212A are different pipelines.
            conditions.append("pipeline = ?")
            arguments.append(.text(pipeline))
        }
        if let job = query.jobID {
            conditions.append("job_id = ?")
            arguments.append(.integer(job))
        }
        if let before = query.beforeID {
            conditions.append("id < ?")
            arguments.append(.integer(before))
        }
        arguments.append(.integer(Int64(query.clampedLimit)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try self.read { db in
            try db.query("SELECT \(Self.deliveryColumns) FROM deliveries \(filter) ORDER BY id DESC LIMIT ?", arguments)
                .map(Self.delivery)
        }
    }

    public func redeliver(id: Int64, at: Date, audit: AuditRecord?) throws -> Delivery? {
        try self.write { db in
            let select = "SELECT \(Self.deliveryColumns) FROM deliveries WHERE id = ?"
            guard let found = try db.query(select, [.integer(id)]).first.map(Self.delivery) else { return nil }
            guard found.state != .delivered else { return found }
            try db.run(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ? WHERE id = ?",
                [.integer(StoredTime.milliseconds(at)), .integer(id)])
            if let audit { try Self.insertAudit(audit, into: db) }
            return try db.query(select, [.integer(id)]).first.map(Self.delivery)
        }
    }

    @discardableResult
    public func pruneDeliveries(finishedBefore before: Date, limit: Int) throws -> Int {
        try self.write { db in
            try db.run(
                """
                DELETE FROM deliveries WHERE id IN (
                    SELECT id FROM deliveries WHERE state IN ('delivered', 'failed') AND last_attempt_at < ?
                    ORDER BY id LIMIT ?)
                """, [.integer(StoredTime.milliseconds(before)), .integer(Int64(max(0, limit)))])
            return db.changes
        }
    }

    /// A row of `deliveryColumns`.
    private static func delivery(_ row: Row) throws -> Delivery {
        guard let id = row[0].int64, let event = row[1].int64, let job = row[2].int64, let pipeline = row[3].text,
            let webhook = row[4].text, let kind = row[5].text, let body = row[6].text,
            let state = row[7].text.flatMap(DeliveryState.init(rawValue:)), let attempts = row[8].int64,
            let created = row[9].int64, let next = row[10].int64
        else { throw JobStoreError("malformed delivery") }
        return Delivery(
            id: id, eventID: event, jobID: job, pipeline: pipeline, webhook: webhook, event: kind, body: body, state: state,
            attempts: Int(attempts), createdAt: StoredTime.date(milliseconds: created), nextAttemptAt: StoredTime.date(milliseconds: next),
            lastAttemptAt: row[11].int64.map(StoredTime.date(milliseconds:)), lastStatus: row[12].int64.map { Int($0) },
            lastError: row[13].text)
    }
}
