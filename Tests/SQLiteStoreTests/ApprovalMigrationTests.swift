import Foundation
import JobStore
import SQLite
import TestSupport
import Testing

@testable import SQLiteStore

/// The migration that lets `jobs.state` hold the approval states: SQLite cannot change a CHECK in
/// place, so the table is rebuilt. Everything a database at the version before holds must
/// survive it: rows, ids, the id counter, the tasks and overviews that reference jobs, indexes.
@Suite struct ApprovalMigrationTests {
    @Test("Rebuilding jobs keeps every row, id, reference, index and the id counter; the new states are then allowed")
    func rebuildKeepsEverything() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("jobs.sqlite")
        // A database as the version before approvals left it, foreign keys on as the store sets them.
        let before = try #require(Schema.migrator.migrations.firstIndex { $0.name == "approvals" })
        let old = try Connection(path: path)
        try old.execute("PRAGMA foreign_keys = ON")
        try Migrator(Array(Schema.migrator.migrations.prefix(before))).migrate(old)
        #expect(try old.query("PRAGMA user_version").first?[0] == .integer(Int64(before)))
        let indexesBefore = Set(
            try old.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'jobs'").compactMap { $0[0].text })
        #expect(indexesBefore.contains("jobs_idempotency") && indexesBefore.contains("jobs_unfinished_by_pipeline"))
        try old.execute("PRAGMA journal_mode = WAL")
        // Three jobs with tasks, a kept overview and an event; the newest deleted, so the counter
        // is above the highest id left.
        for id in 1...3 {
            try old.run(
                """
                INSERT INTO jobs (id, pipeline, state, triggered_by, identity_source, params, working_directory, created_at, identity)
                VALUES (?, 'etl', 'succeeded', 'alice', 'remote_user', '{}', '/', 1, 'i')
                """, [.integer(Int64(id))])
            try old.run(
                "INSERT INTO tasks (job_id, name, position, needs, argv, state) VALUES (?, 'a', 0, '[]', '[\"/bin/true\"]', 'succeeded')",
                [.integer(Int64(id))])
        }
        try old.run("INSERT INTO job_overviews (job_id, overview) VALUES (1, '{}')")
        try old.run("DELETE FROM jobs WHERE id = 3")
        #expect(try old.query("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").first?[0] == .integer(3))

        // The store opens the file and applies the approvals migration and every later one.
        let store = try SQLiteJobStore(path: path)
        let check = try Connection(path: path)
        #expect(try check.query("PRAGMA user_version").first?[0] == .integer(Int64(Schema.migrator.migrations.count)))
        #expect(try check.query("SELECT id FROM jobs ORDER BY id").map { $0[0] } == [.integer(1), .integer(2)])
        #expect(try check.query("SELECT count(*) FROM tasks").first?[0] == .integer(2), "no task was cascaded away")
        #expect(try check.query("SELECT count(*) FROM job_overviews").first?[0] == .integer(1))
        let indexesAfter = Set(
            try check.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'jobs'").compactMap { $0[0].text })
        #expect(indexesAfter == indexesBefore.union(["jobs_awaiting_approval", "jobs_undecided_by_identity"]))
        #expect(try check.query("PRAGMA foreign_key_check").isEmpty)
        // The duplicate check (waiting jobs included) and the queue count each use a partial index,
        // not the pipeline's whole history.
        for (sql, index) in [
            (
                "SELECT id FROM jobs WHERE pipeline = 'etl' AND identity = 'i' AND \(Schema.undecidedStates) ORDER BY id LIMIT 1",
                "jobs_undecided_by_identity"
            ),
            ("SELECT count(*) FROM jobs WHERE pipeline = 'etl' AND state IN ('queued','running')", "jobs_unfinished_by_pipeline"),
        ] {
            let plan = try check.query("EXPLAIN QUERY PLAN " + sql).compactMap { $0[3].text }.joined(separator: " | ")
            #expect(plan.contains(index), "\(sql): \(plan)")
        }
        #expect(try check.query("PRAGMA integrity_check").first?[0] == .text("ok"))
        // The counter survived: the next job is 4, not 3 (a deleted job's id is never reused).
        let next = try store.createJob(Fixtures.job())
        #expect(next.id == 4)
        // The new states are allowed, the old CHECK's others still refused; references still hold.
        try check.run("UPDATE jobs SET state = 'awaiting_approval' WHERE id = 2")
        #expect(throws: SQLiteError.self) { try check.run("UPDATE jobs SET state = 'paused' WHERE id = 2") }
        try check.execute("PRAGMA foreign_keys = ON")
        try check.run("DELETE FROM jobs WHERE id = 1")
        #expect(try check.query("SELECT count(*) FROM tasks WHERE job_id = 1").first?[0] == .integer(0), "ON DELETE CASCADE holds")
        #expect(try check.query("SELECT count(*) FROM job_overviews").first?[0] == .integer(0))
    }
}
