import Foundation
import SQLite
import TestSupport
import Testing

@Suite struct ConnectionTests {
    private struct Abort: Error {}

    @Test("Opening a path that does not exist yet creates the database file")
    func openCreates() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("new.sqlite")
        #expect(!FileManager.default.fileExists(atPath: path))
        let db = try Connection(path: path)
        try db.execute("CREATE TABLE t (x)")
        #expect(db.path == path)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("Opening a database in a directory that does not exist throws SQLiteError")
    func openMissingDirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: SQLiteError.self) { try Connection(path: dir.file("missing/db.sqlite")) }
        #expect(error?.primaryCode == 14)  // SQLITE_CANTOPEN
    }

    @Test("execute runs several statements in one call")
    func executeSeveral() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);")
        #expect(try db.query("SELECT sum(x) FROM t").first?[0] == .integer(3))
    }

    @Test("Query rows can be read by column index and by column name")
    func rowsByIndexAndName() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        try db.run("INSERT INTO people (name, score) VALUES (?, ?)", [.text("ada"), .real(9.5)])
        try db.run("INSERT INTO people (name, score) VALUES (?, ?)", [.text("bob"), .null])
        let rows = try db.query("SELECT id, name, score AS points FROM people ORDER BY id")
        try #require(rows.count == 2)
        #expect(rows[0].columns == ["id", "name", "points"])
        #expect(rows[0][0] == .integer(1))
        #expect(rows[0][1] == .text("ada"))
        #expect(rows[0]["name"] == .text("ada"))
        #expect(rows[0]["points"].double == 9.5)
        #expect(rows[1]["name"].text == "bob")
        #expect(rows[1]["points"] == .null)
        #expect(rows[1]["no_such_column"] == .null)
    }

    @Test("A query that matches nothing returns no rows")
    func emptyResult() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (x)")
        #expect(try db.query("SELECT x FROM t WHERE x = ?", [1]).isEmpty)
    }

    @Test("prepare returns the same cached statement for the same SQL")
    func statementCache() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        let first = try db.prepare("SELECT ?1 + 1")
        let second = try db.prepare("SELECT ?1 + 1")
        let other = try db.prepare("SELECT ?1 + 2")
        #expect(first === second)
        #expect(first !== other)
        #expect(first.sql == "SELECT ?1 + 1")
    }

    @Test("A cached statement reused with new arguments returns fresh results")
    func cachedStatementRebinds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (k TEXT, v INTEGER)")
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] { try db.run("INSERT INTO t VALUES (?, ?)", [.text(k), .integer(Int64(v))]) }
        let sql = "SELECT v FROM t WHERE k = ?"
        #expect(try db.query(sql, ["b"]).map(\.values) == [[.integer(2)]])
        #expect(try db.query(sql, ["c"]).map(\.values) == [[.integer(3)]])
        #expect(try db.query(sql, ["zzz"]).isEmpty)
        // A statement left mid-iteration is reset on rebinding.
        let statement = try db.prepare("SELECT v FROM t ORDER BY v")
        try statement.bind([])
        #expect(try statement.rows().count == 3)
        #expect(try statement.rows().count == 3)
    }

    @Test("lastInsertRowID and changes describe the most recent write")
    func rowIDAndChanges() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
        try db.run("INSERT INTO t (x) VALUES (?)", ["a"])
        try db.run("INSERT INTO t (x) VALUES (?)", ["b"])
        #expect(db.lastInsertRowID == 2)
        #expect(db.changes == 1)
        try db.run("UPDATE t SET x = 'z'")
        #expect(db.changes == 2)
        try db.run("UPDATE t SET x = 'y' WHERE id = 99")
        #expect(db.changes == 0)
    }

    @Test("transaction commits when its body returns, visibly to another connection")
    func transactionCommits() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (x)")
        let value = try db.transaction {
            try db.run("INSERT INTO t VALUES (?)", [1])
            try db.run("INSERT INTO t VALUES (?)", [2])
            return "done"
        }
        #expect(value == "done")
        let other = try Connection(path: dir.file("db.sqlite"))
        #expect(try other.query("SELECT count(*) FROM t").first?[0] == .integer(2))
    }

    @Test("transaction rolls back when its body throws and rethrows the error")
    func transactionRollsBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (x)")
        try db.run("INSERT INTO t VALUES (?)", [0])
        #expect(throws: Abort.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (?)", [1])
                try db.run("DELETE FROM t WHERE x = 0")
                throw Abort()
            }
        }
        #expect(try db.query("SELECT x FROM t").map(\.values) == [[.integer(0)]])
        // The connection is usable for a new transaction afterwards (no transaction left open).
        try db.transaction { try db.run("INSERT INTO t VALUES (?)", [5]) }
        let other = try Connection(path: dir.file("db.sqlite"))
        #expect(try other.query("SELECT count(*) FROM t").first?[0] == .integer(2))
    }

    @Test("A write transaction that cannot get the lock before the busy timeout fails as busy")
    func busyTimeout() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try Connection(path: dir.file("db.sqlite"))
        try first.execute("CREATE TABLE t (x)")
        let second = try Connection(path: dir.file("db.sqlite"), busyTimeoutMilliseconds: 50)
        try first.execute("BEGIN IMMEDIATE")
        defer { try? first.execute("ROLLBACK") }
        let error = #expect(throws: SQLiteError.self) {
            try second.transaction { try second.run("INSERT INTO t VALUES (1)") }
        }
        #expect(error?.isBusy == true)
        #expect(error?.isConstraintViolation == false)
    }
}
