import Foundation
import SQLite
import TestSupport
import Testing

@Suite struct MigratorTests {
    private static func version(_ db: Connection) throws -> Int64? {
        try db.query("PRAGMA user_version").first?[0].int64
    }

    private static func tables(_ db: Connection) throws -> [String] {
        try db.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").compactMap { $0[0].text }
    }

    private static let first = Migrator.Migration(name: "one", sql: "CREATE TABLE a (x); INSERT INTO a VALUES (1);")
    private static let second = Migrator.Migration(name: "two", sql: "CREATE TABLE b (y); INSERT INTO a VALUES (2);")

    @Test("A fresh database gets every migration in order and user_version equal to their count")
    func appliesAll() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try Migrator([Self.first, Self.second]).migrate(db)
        #expect(try Self.version(db) == 2)
        #expect(try Self.tables(db) == ["a", "b"])
        #expect(try db.query("SELECT x FROM a ORDER BY rowid").map { $0[0] } == [.integer(1), .integer(2)])
    }

    @Test("Migrating again applies nothing, and a new migration is applied alone")
    func appliesOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("db.sqlite")
        try Migrator([Self.first]).migrate(Connection(path: path))
        let db = try Connection(path: path)
        try Migrator([Self.first]).migrate(db)
        #expect(try Self.version(db) == 1)
        #expect(try db.query("SELECT count(*) FROM a").first?[0] == .integer(1))
        try Migrator([Self.first, Self.second]).migrate(db)
        try Migrator([Self.first, Self.second]).migrate(db)
        #expect(try Self.version(db) == 2)
        #expect(try db.query("SELECT x FROM a ORDER BY rowid").map { $0[0] } == [.integer(1), .integer(2)])
    }

    @Test("A database whose version is newer than the migrator knows is refused untouched")
    func refusesNewer() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("PRAGMA user_version = 3")
        let error = #expect(throws: SQLiteError.self) { try Migrator([Self.first, Self.second]).migrate(db) }
        #expect(error?.message.contains("newer") == true)
        #expect(try Self.version(db) == 3)
        #expect(try Self.tables(db).isEmpty)
    }

    @Test("A failing migration leaves the version at the last good one and none of its changes")
    func failingMigration() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        let broken = Migrator.Migration(
            name: "broken", sql: "CREATE TABLE c (z); INSERT INTO a VALUES (3); INSERT INTO nowhere VALUES (1);")
        #expect(throws: SQLiteError.self) { try Migrator([Self.first, broken, Self.second]).migrate(db) }
        #expect(try Self.version(db) == 1)
        #expect(try Self.tables(db) == ["a"])
        #expect(try db.query("SELECT count(*) FROM a").first?[0] == .integer(1))
        // Fixing the migration later continues from version 1.
        let fixed = Migrator.Migration(name: "fixed", sql: "CREATE TABLE c (z);")
        try Migrator([Self.first, fixed, Self.second]).migrate(db)
        #expect(try Self.version(db) == 3)
        #expect(try Self.tables(db) == ["a", "b", "c"])
    }

    @Test("An empty migrator leaves a fresh database at version 0")
    func emptyMigrator() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try Migrator([]).migrate(db)
        #expect(try Self.version(db) == 0)
    }
}
