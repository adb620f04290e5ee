public import Foundation
public import JobStore
import Postgres

/// The webhook deliveries' outbox (`Delivery`), shared by every host of the store.
extension PostgresJobStore {
    /// The columns `delivery(_:)` reads, in its order.
    static let deliveryColumns = """
        id, event_id, job_id, pipeline, webhook, event, body, state, attempts, created_at, next_attempt_at,
        last_attempt_at, last_status, last_error
        """

    public func enqueueDeliveries(_ deliveries: [NewDelivery], consumer: String, through eventID: Int64) throws {
        let now = StoredTime.milliseconds(self.now())
        try self.write { db in
            for d in deliveries {
                // The pair (event, webhook) is unique: an event two hosts both read makes one delivery.
                try db.execute(
                    """
                    INSERT INTO deliveries (event_id, job_id, pipeline, webhook, event, body, created_at, next_attempt_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (event_id, webhook) DO NOTHING
                    """,
                    [.int64(d.eventID), .int64(d.jobID), .text(d.pipeline), .text(d.webhook), .text(d.event), .text(d.body), .int64(now)])
            }
            try db.execute(
                """
                INSERT INTO event_cursors (consumer, event_id) VALUES ($1, $2)
                ON CONFLICT (consumer) DO UPDATE SET event_id = greatest(event_cursors.event_id, excluded.event_id)
                """, [.text(consumer), .int64(eventID)])
        }
    }

    public func claimDueDeliveries(now: Date, limit: Int, claimUntil: Date) throws -> [Delivery] {
        try self.write { db in
            // SKIP LOCKED: a delivery another host is claiming right now is left to it instead of
            // making this claim wait; once claimed, its next attempt is in the future anyway.
            try db.execute(
                """
                UPDATE deliveries SET next_attempt_at = $1
                WHERE id IN (
                    SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $2
                    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.deliveryColumns)
                """,
                [.int64(StoredTime.milliseconds(claimUntil)), .int64(StoredTime.milliseconds(now)), .int64(Int64(max(0, limit)))]
            ).map(Self.delivery).sorted { $0.id < $1.id }
        }
    }

    @discardableResult
    public func recordDeliveryAttempt(id: Int64, claimedUntil: Date?, _ attempt: DeliveryAttempt) throws -> Bool {
        let (state, next) = attempt.stateAndNext
        return try self.write { db in
            try db.execute(
                """
                UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = $1, last_status = $2, last_error = $3,
                    state = $4, next_attempt_at = $5
                WHERE id = $6 AND state = 'pending' AND ($7::bigint IS NULL OR next_attempt_at = $7::bigint)
                """,
                [
                    .int64(StoredTime.milliseconds(attempt.at)), attempt.status.map { .int64(Int64($0)) },
                    attempt.keptError.map { .text($0) }, .text(state.rawValue), .int64(StoredTime.milliseconds(next)), .int64(id),
                    claimedUntil.map { .int64(StoredTime.milliseconds($0)) },
                ]
            ).affectedRows == 1
        }
    }

    public func deliveries(_ query: DeliveryQuery) throws -> [Delivery] {
        var arguments = Arguments()
        var conditions: [String] = []
        if let state = query.state { conditions.append("state = " + arguments.add(.text(state.rawValue))) }
        // The column is COLLATE "C": pipelines are compared as bytes.
        if let pipeline = query.pipeline { conditions.append("pipeline = " + arguments.add(.text(pipeline))) }
        if let job = query.jobID { conditions.append("job_id = " + arguments.add(.int64(job))) }
        if let before = query.beforeID { conditions.append("id < " + arguments.add(.int64(before))) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = arguments.add(.int64(Int64(query.clampedLimit)))
        return try self.read { db in
            try db.execute("SELECT \(Self.deliveryColumns) FROM deliveries \(filter) ORDER BY id DESC LIMIT \(limit)", arguments.values)
                .map(Self.delivery)
        }
    }

    public func redeliver(id: Int64, at: Date, audit: AuditRecord?) throws -> Delivery? {
        try self.write { db in
            let select = "SELECT \(Self.deliveryColumns) FROM deliveries WHERE id = $1"
            guard let found = try db.execute(select + " FOR UPDATE", [.int64(id)]).first.map(Self.delivery) else { return nil }
            guard found.state != .delivered else { return found }
            try db.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = $1 WHERE id = $2",
                [.int64(StoredTime.milliseconds(at)), .int64(id)])
            if let audit { try Self.insertAudit(audit, into: db) }
            return try db.execute(select, [.int64(id)]).first.map(Self.delivery)
        }
    }

    @discardableResult
    public func pruneDeliveries(finishedBefore before: Date, limit: Int) throws -> Int {
        try self.write { db in
            try db.execute(
                """
                DELETE FROM deliveries WHERE id IN (
                    SELECT id FROM deliveries WHERE state IN ('delivered', 'failed') AND last_attempt_at < $1
                    ORDER BY id LIMIT $2)
                """, [.int64(StoredTime.milliseconds(before)), .int64(Int64(max(0, limit)))]
            ).affectedRows ?? 0
        }
    }

    /// A row of `deliveryColumns`.
    private static func delivery(_ row: PostgresRow) throws -> Delivery {
        guard let id = try row.int64(0), let event = try row.int64(1), let job = try row.int64(2), let pipeline = try row.string(3),
            let webhook = try row.string(4), let kind = try row.string(5), let body = try row.string(6),
            let state = try row.string(7).flatMap(DeliveryState.init(rawValue:)), let attempts = try row.int64(8),
            let created = try row.int64(9), let next = try row.int64(10)
        else { throw JobStoreError("malformed delivery") }
        return Delivery(
            id: id, eventID: event, jobID: job, pipeline: pipeline, webhook: webhook, event: kind, body: body, state: state,
            attempts: Int(attempts), createdAt: StoredTime.date(milliseconds: created), nextAttemptAt: StoredTime.date(milliseconds: next),
            lastAttemptAt: try row.int64(11).map(StoredTime.date(milliseconds:)), lastStatus: try row.int64(12).map { Int($0) },
            lastError: try row.string(13))
    }
}
