import Foundation
public import JobStore
import SQLite

/// What the store keeps for work that happens without a request: schedules' marks, and the
/// outbox of job events with its readers' cursors.
extension SQLiteJobStore {
    public func scheduleMarks() throws -> [ScheduleMark] {
        try self.read { db in
            try db.query("SELECT name, next_fire_at, fingerprint FROM schedule_marks ORDER BY name").map { row in
                guard let name = row[0].text, let next = row[1].int64, let fingerprint = row[2].text else {
                    throw JobStoreError("malformed schedule mark")
                }
                return ScheduleMark(name: name, nextFireAt: StoredTime.date(milliseconds: next), fingerprint: fingerprint)
            }
        }
    }

    public func moveScheduleMark(from expected: ScheduleMark?, to mark: ScheduleMark) throws -> Bool {
        try self.write { db in
            if let expected {
                try db.run(
                    """
                    UPDATE schedule_marks SET next_fire_at = ?, fingerprint = ?
                    WHERE name = ? AND next_fire_at = ? AND fingerprint = ?
                    """,
                    [
                        .integer(StoredTime.milliseconds(mark.nextFireAt)), .text(mark.fingerprint), .text(mark.name),
                        .integer(StoredTime.milliseconds(expected.nextFireAt)), .text(expected.fingerprint),
                    ])
            } else {
                try db.run(
                    "INSERT INTO schedule_marks (name, next_fire_at, fingerprint) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    [.text(mark.name), .integer(StoredTime.milliseconds(mark.nextFireAt)), .text(mark.fingerprint)])
            }
            return db.changes == 1
        }
    }

    public func jobEvents(after id: Int64, limit: Int) throws -> [JobEvent] {
        try self.read { db in
            try db.query(
                "SELECT id, job_id, pipeline, state, at FROM job_events WHERE id > ? ORDER BY id LIMIT ?",
                [.integer(id), .integer(Int64(max(0, limit)))]
            ).map { row in
                guard let id = row[0].int64, let job = row[1].int64, let pipeline = row[2].text,
                    let state = row[3].text.flatMap(JobState.init(rawValue:)), let at = row[4].int64
                else { throw JobStoreError("malformed job event") }
                return JobEvent(id: id, jobID: job, pipeline: pipeline, state: state, at: StoredTime.date(milliseconds: at))
            }
        }
    }

    public func eventCursor(_ consumer: String) throws -> Int64? {
        try self.read { db in
            try db.query("SELECT event_id FROM event_cursors WHERE consumer = ?", [.text(consumer)]).first?[0].int64
        }
    }

    @discardableResult
    public func advanceEventCursor(_ consumer: String, to id: Int64?) throws -> Int64 {
        try self.write { db in
            if let id {
                try db.run(
                    """
                    INSERT INTO event_cursors (consumer, event_id) VALUES (?, ?)
                    ON CONFLICT (consumer) DO UPDATE SET event_id = max(event_id, excluded.event_id)
                    """, [.text(consumer), .integer(id)])
            } else {
                // `WHERE true`: SQLite would read the ON of an upsert after a bare FROM as a join's.
                try db.run(
                    """
                    INSERT INTO event_cursors (consumer, event_id) SELECT ?, coalesce(max(id), 0) FROM job_events WHERE true
                    ON CONFLICT (consumer) DO NOTHING
                    """, [.text(consumer)])
            }
            guard let cursor = try db.query("SELECT event_id FROM event_cursors WHERE consumer = ?", [.text(consumer)]).first?[0].int64
            else { throw JobStoreError("event cursor of \(consumer) was not written") }
            return cursor
        }
    }

    @discardableResult
    public func pruneJobEvents(limit: Int) throws -> Int {
        try self.write { db in
            try db.run(
                """
                DELETE FROM job_events WHERE id IN (
                    SELECT id FROM job_events WHERE id <= (SELECT min(event_id) FROM event_cursors) ORDER BY id LIMIT ?)
                """, [.integer(Int64(max(0, limit)))])
            return db.changes
        }
    }
}
