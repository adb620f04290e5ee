public import JobStore
import Postgres

/// Stored logs, job owners and shared secrets: what lets any host answer for work another host
/// did (`SharedJobStore`; docs/architecture.md, "Several hosts").
extension PostgresJobStore {
    public func storeLog(jobID: Int64, task: String, attempt: Int, bytes: [UInt8]) throws {
        let stored = self.now()
        try self.write { db in
            // A job deleted by retention meanwhile: its log has nowhere to go (the foreign key
            // would refuse it), and nobody can ask for it.
            try db.execute(
                """
                INSERT INTO task_logs (job_id, task, attempt, content, stored_at)
                SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1)
                ON CONFLICT (job_id, task, attempt) DO UPDATE SET content = EXCLUDED.content, stored_at = EXCLUDED.stored_at
                """,
                [
                    .int64(jobID), .text(task), .int64(Int64(attempt)), .bytes(bytes),
                    .int64(StoredTime.milliseconds(stored)),
                ])
        }
    }

    public func storedLog(jobID: Int64, task: String, attempt: Int) throws -> [UInt8]? {
        try self.read { db in
            try db.execute(
                "SELECT content FROM task_logs WHERE job_id = $1 AND task = $2 AND attempt = $3",
                [.int64(jobID), .text(task), .int64(Int64(attempt))]
            ).first?.bytes(0)
        }
    }

    public func owner(ofJob id: Int64) throws -> String? {
        try self.read { db in try db.execute("SELECT owner FROM jobs WHERE id = $1", [.int64(id)]).first?.string(0) }
    }

    public func sharedSecret(named name: String, generate: () -> [UInt8]) throws -> [UInt8] {
        let candidate = generate()
        return try self.write { db in
            // The first insert wins; every host (and every later start) reads the same value.
            try db.execute(
                "INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                [.text(name), .bytes(candidate)])
            guard let value = try db.execute("SELECT value FROM shared_secrets WHERE name = $1", [.text(name)]).first?.bytes(0) else {
                throw JobStoreError("the shared secret \(name) vanished")
            }
            return value
        }
    }
}
