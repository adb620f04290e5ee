import Foundation
public import JobStore
import Postgres

/// What the store keeps for work that happens without a request: schedules' marks, and the
/// outbox of job events with its readers' cursors.
extension PostgresJobStore {
    public func scheduleMarks() throws -> [ScheduleMark] {
        try self.read { db in
            try db.execute("SELECT name, next_fire_at, fingerprint FROM schedule_marks ORDER BY name").map { row in
                guard let name = try row.string(0), let next = try row.int64(1), let fingerprint = try row.string(2) else {
                    throw JobStoreError("malformed schedule mark")
                }
                return ScheduleMark(name: name, nextFireAt: StoredTime.date(milliseconds: next), fingerprint: fingerprint)
            }
        }
    }

    public func moveScheduleMark(from expected: ScheduleMark?, to mark: ScheduleMark) throws -> Bool {
        try self.write { db in
            let result: PostgresResult
            if let expected {
                result = try db.execute(
                    """
                    UPDATE schedule_marks SET next_fire_at = $1, fingerprint = $2
                    WHERE name = $3 AND next_fire_at = $4 AND fingerprint = $5
                    """,
                    [
                        .int64(StoredTime.milliseconds(mark.nextFireAt)), .text(mark.fingerprint), .text(mark.name),
                        .int64(StoredTime.milliseconds(expected.nextFireAt)), .text(expected.fingerprint),
                    ])
            } else {
                result = try db.execute(
                    "INSERT INTO schedule_marks (name, next_fire_at, fingerprint) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    [.text(mark.name), .int64(StoredTime.milliseconds(mark.nextFireAt)), .text(mark.fingerprint)])
            }
            return result.affectedRows == 1
        }
    }

    public func jobEvents(after id: Int64, limit: Int) throws -> [JobEvent] {
        try self.read { db in
            try db.execute(
                "SELECT id, job_id, pipeline, state, at FROM job_events WHERE id > $1 ORDER BY id LIMIT $2",
                [.int64(id), .int64(Int64(max(0, limit)))]
            ).map { row in
                guard let id = try row.int64(0), let job = try row.int64(1), let pipeline = try row.string(2),
                    let state = try row.string(3).flatMap(JobState.init(rawValue:)), let at = try row.int64(4)
                else { throw JobStoreError("malformed job event") }
                return JobEvent(id: id, jobID: job, pipeline: pipeline, state: state, at: StoredTime.date(milliseconds: at))
            }
        }
    }

    public func eventCursor(_ consumer: String) throws -> Int64? {
        try self.read { db in
            try db.execute("SELECT event_id FROM event_cursors WHERE consumer = $1", [.text(consumer)]).first?.int64(0)
        }
    }

    @discardableResult
    public func advanceEventCursor(_ consumer: String, to id: Int64?) throws -> Int64 {
        try self.write { db in
            if let id {
                try db.execute(
                    """
                    INSERT INTO event_cursors (consumer, event_id) VALUES ($1, $2)
                    ON CONFLICT (consumer) DO UPDATE SET event_id = greatest(event_cursors.event_id, excluded.event_id)
                    """, [.text(consumer), .int64(id)])
            } else {
                try db.execute(
                    """
                    INSERT INTO event_cursors (consumer, event_id) SELECT $1, coalesce(max(id), 0) FROM job_events
                    ON CONFLICT (consumer) DO NOTHING
                    """, [.text(consumer)])
            }
            guard let cursor = try db.execute("SELECT event_id FROM event_cursors WHERE consumer = $1", [.text(consumer)]).first?.int64(0)
            else { throw JobStoreError("event cursor of \(consumer) was not written") }
            return cursor
        }
    }

    @discardableResult
    public func pruneJobEvents(limit: Int) throws -> Int {
        try self.write { db in
            try db.execute(
                """
                DELETE FROM job_events WHERE id IN (
                    SELECT id FROM job_events WHERE id <= (SELECT min(event_id) FROM event_cursors) ORDER BY id LIMIT $1)
                """, [.int64(Int64(max(0, limit)))]
            ).affectedRows ?? 0
        }
    }
}
