import Foundation
import JobStore
import Locking
import Postgres
import TestSupport
import Testing

@testable import PostgresStore

/// Creating and migrating the schema: versions, idempotence, hosts starting together, collation.
@Suite(ServerTrait.enabled)
struct PostgresSchemaTests {
    /// The versions recorded in `sluice_schema`, in order.
    private static func versions(_ db: PostgresConnection) throws -> [Int64] {
        try db.execute("SELECT version FROM sluice_schema ORDER BY version").compactMap { try $0.int64(0) }
    }

    @Test("Migrating twice is idempotent: the second run applies nothing and the data stays")
    func migrateTwice() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let db = try schema.connect()
        #expect(try PostgresSchema.migrate(db) == PostgresSchema.migrations.map(\.version))
        #expect(try Self.versions(db) == PostgresSchema.migrations.map { Int64($0.version) })
        let store = try schema.store()
        let job = try store.createJob(
            NewJob(pipeline: "p", triggeredBy: "u", identitySource: "s", params: [:], workingDirectory: "/", tasks: []))
        #expect(try PostgresSchema.migrate(db) == [])
        // Opening stores again migrates nothing either.
        _ = try schema.store()
        _ = try schema.store()
        #expect(try Self.versions(db) == PostgresSchema.migrations.map { Int64($0.version) })
        #expect(try store.job(id: job.id)?.pipeline == "p")
        #expect(PostgresSchema.currentVersion == 10)
    }

    @Test("Stores opening a fresh schema at the same moment all succeed, and each migration runs once", .timeLimit(.minutes(1)))
    func concurrentOpen() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do {
                let store = try schema.store(poolSize: 1)
                _ = try store.jobs(JobQuery())
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let db = try schema.connect()
        #expect(try Self.versions(db) == PostgresSchema.migrations.map { Int64($0.version) })
    }

    @Test("A schema from a newer Sluice is refused at open, naming both versions")
    func newerSchema() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        _ = try schema.store()
        try schema.connect().execute("INSERT INTO sluice_schema (version, name) VALUES (99, 'from the future')")
        let error = try #require(throws: JobStoreError.self) { try schema.store() }
        #expect(error.reason.contains("99") && error.reason.contains("\(PostgresSchema.currentVersion)"))
    }

    @Test("Every text column of the store's tables uses the C collation, so names compare and sort as bytes")
    func collation() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        _ = try schema.store()
        let db = try schema.connect()
        let columns = try db.execute(
            """
            SELECT table_name || '.' || column_name AS name, coalesce(collation_name, '(default)') AS collation
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name IN ('jobs', 'tasks', 'audit', 'hosts', 'task_logs', 'shared_secrets') AND data_type = 'text'
            """)
        #expect(columns.count == 31)
        for row in columns {
            let name = try row.string("name") ?? ""
            #expect(try row.string("collation") == "C", "\(name)")
        }
        // Byte order, not a locale's: "Z" < "a" < "é" < "K" (U+212A) and "K" ≠ "K".
        let store = try schema.store()
        for pipeline in ["a", "\u{212A}", "Z", "\u{E9}", "K"] {
            _ = try store.createJob(
                NewJob(pipeline: pipeline, triggeredBy: "u", identitySource: "s", params: [:], workingDirectory: "/", tasks: []))
        }
        let sorted = try db.execute("SELECT pipeline FROM jobs ORDER BY pipeline").compactMap { try $0.string(0) }
        #expect(sorted.map { Array($0.utf8) } == ["K", "Z", "a", "\u{E9}", "\u{212A}"].map { Array($0.utf8) })
    }
}
