import Foundation
import JobStore
import SQLite
import TestSupport
import Testing

@testable import SQLiteStore

/// The migration that turns constant `IN` lists of three or more values (in CHECKs and a partial
/// index) into comparisons: SQLite builds a temporary b-tree for such a list every time a
/// statement runs, so every insert and update of a job or task paid for one or more.
@Suite struct ConstantListMigrationTests {
    /// Opcodes of `sql`'s program that open a temporary b-tree.
    static func ephemeralOpens(_ db: Connection, _ sql: String, arguments: Int) throws -> Int {
        try db.query("EXPLAIN " + sql, Array(repeating: .null, count: arguments)).filter { $0[1].text == "OpenEphemeral" }.count
    }

    static let jobInsert = """
        INSERT INTO jobs (pipeline, state, triggered_by, identity_source, params, working_directory, created_at, identity)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let taskInsert = "INSERT INTO tasks (job_id, name, position, needs, argv, state) VALUES (?, ?, ?, ?, ?, ?)"
    static let jobUpdate = "UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?), finished_at = ? WHERE id = ?"
    static let taskUpdate = "UPDATE tasks SET state = ?, exit_code = ? WHERE job_id = ? AND name = ?"

    @Test(
        "Rows, ids, counters, references and indexes survive; the same states are allowed and refused; no insert or update builds a temporary b-tree"
    )
    func migrates() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("jobs.sqlite")
        let index = try #require(Schema.migrator.migrations.firstIndex { $0.name == "comparisons instead of constant lists" })
        let old = try Connection(path: path)
        try old.execute("PRAGMA foreign_keys = ON")
        try Migrator(Array(Schema.migrator.migrations.prefix(index))).migrate(old)
        #expect(try Self.ephemeralOpens(old, Self.jobInsert, arguments: 8) > 0, "the lists as they were cost a b-tree per insert")
        #expect(try Self.ephemeralOpens(old, Self.taskInsert, arguments: 6) > 0)
        for id in 1...4 {
            try old.run(
                """
                INSERT INTO jobs (id, pipeline, state, triggered_by, identity_source, params, working_directory, created_at, identity)
                VALUES (?, 'etl', ?, 'alice', 'remote_user', '{}', '/', 1, 'i')
                """, [.integer(Int64(id)), .text(["queued", "running", "awaiting_approval", "succeeded"][id - 1])])
            for name in ["a", "b"] {
                try old.run(
                    "INSERT INTO tasks (job_id, name, position, needs, argv, state) VALUES (?, ?, 0, '[]', '[]', 'skipped')",
                    [.integer(Int64(id)), .text(name)])
            }
        }
        try old.run("INSERT INTO job_overviews (job_id, overview) VALUES (4, '{}')")
        try old.run(
            """
            INSERT INTO deliveries (event_id, job_id, pipeline, webhook, event, body, state, created_at, next_attempt_at)
            VALUES (1, 4, 'etl', 'w', 'job.succeeded', '{}', 'delivered', 1, 1)
            """)
        try old.run("DELETE FROM jobs WHERE id = 4")
        try old.run("INSERT INTO job_overviews (job_id, overview) VALUES (3, '{}')")
        let tables = ["jobs", "tasks", "deliveries", "job_overviews"]
        func counts(_ db: Connection) throws -> [Int64] {
            try tables.map { try db.query("SELECT count(*) FROM \($0)").first?[0].int64 ?? -1 }
        }
        func dependents(_ db: Connection) throws -> Set<String> {
            Set(
                try db.query("SELECT name FROM sqlite_schema WHERE type IN ('index', 'trigger') AND sql IS NOT NULL").compactMap {
                    $0[0].text
                })
        }
        let countsBefore = try counts(old)
        let dependentsBefore = try dependents(old)

        let store = try SQLiteJobStore(path: path)
        let check = try Connection(path: path)
        #expect(try check.query("PRAGMA user_version").first?[0] == .integer(Int64(Schema.migrator.migrations.count)))
        #expect(try counts(check) == countsBefore)
        #expect(try dependents(check) == dependentsBefore, "every index and trigger made again")
        #expect(try check.query("PRAGMA foreign_key_check").isEmpty)
        #expect(try check.query("PRAGMA integrity_check").first?[0] == .text("ok"))
        #expect(
            try check.query("SELECT state FROM jobs ORDER BY id").map { $0[0] }
                == ["queued", "running", "awaiting_approval"].map(SQLValue.text))
        // No statement of the hot paths builds a temporary b-tree any more.
        #expect(try Self.ephemeralOpens(check, Self.jobInsert, arguments: 8) == 0)
        #expect(try Self.ephemeralOpens(check, Self.taskInsert, arguments: 6) == 0)
        #expect(try Self.ephemeralOpens(check, Self.jobUpdate, arguments: 4) == 0)
        #expect(try Self.ephemeralOpens(check, Self.taskUpdate, arguments: 4) == 0)
        let duplicate = "SELECT id FROM jobs WHERE pipeline = 'etl' AND identity = 'i' AND \(Schema.undecidedStates) ORDER BY id LIMIT 1"
        #expect(try Self.ephemeralOpens(check, duplicate, arguments: 0) == 0)
        let plan = try check.query("EXPLAIN QUERY PLAN " + duplicate).compactMap { $0[3].text }.joined(separator: " | ")
        #expect(plan.contains("jobs_undecided_by_identity"), "\(plan)")
        // The same states as before are allowed, the others refused, in all three tables.
        try check.run("UPDATE jobs SET state = 'expired' WHERE id = 1")
        #expect(throws: SQLiteError.self) { try check.run("UPDATE jobs SET state = 'paused' WHERE id = 1") }
        try check.run("UPDATE tasks SET state = 'cancelled' WHERE job_id = 1 AND name = 'a'")
        #expect(throws: SQLiteError.self) { try check.run("UPDATE tasks SET state = 'expired' WHERE job_id = 1 AND name = 'a'") }
        #expect(throws: SQLiteError.self) { try check.run("UPDATE deliveries SET state = 'queued'") }
        // The id counter survived (job 4 was deleted), and references still cascade.
        #expect(try store.createJob(Fixtures.job()).id == 5)
        try check.execute("PRAGMA foreign_keys = ON")
        try check.run("DELETE FROM jobs WHERE id = 3")
        #expect(try check.query("SELECT count(*) FROM tasks WHERE job_id = 3").first?[0] == .integer(0), "ON DELETE CASCADE holds")
        #expect(try check.query("SELECT count(*) FROM job_overviews WHERE job_id = 3").first?[0] == .integer(0))
    }

    @Test("A fresh store's schema has no constant list of three or more values left in a CHECK or an index")
    func freshSchema() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try SQLiteJobStore(path: dir.file("s.db"))
        let db = try Connection(path: dir.file("s.db"))
        let definitions = try db.query("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL").map {
            ($0[0].text ?? "", $0[1].text ?? "")
        }
        for (name, sql) in definitions {
            // An IN list with at least two commas inside its parentheses.
            let lists = sql.components(separatedBy: " IN (").dropFirst().map { $0.prefix { $0 != ")" } }
            #expect(lists.allSatisfy { $0.filter { $0 == "," }.count < 2 }, "\(name): \(sql)")
        }
    }
}
