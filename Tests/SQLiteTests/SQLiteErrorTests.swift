import Foundation
import SQLite
import TestSupport
import Testing

@Suite struct SQLiteErrorTests {
    private static func database(_ dir: TemporaryDirectory) throws -> Connection {
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute(
            """
            PRAGMA foreign_keys = ON;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE t (
                u TEXT UNIQUE,
                n TEXT NOT NULL DEFAULT 'x',
                c TEXT CHECK (c IS NULL OR length(c) < 5),
                p INTEGER REFERENCES parent(id)
            );
            INSERT INTO t (u) VALUES ('taken');
            """)
        return db
    }

    @Test(
        "Constraint violations surface as SQLiteError with isConstraintViolation",
        arguments: [
            ("INSERT INTO t (u) VALUES (?)", SQLValue.text("taken"), Int32(2067)),  // SQLITE_CONSTRAINT_UNIQUE
            ("INSERT INTO t (u, n) VALUES ('other', ?)", SQLValue.null, Int32(1299)),  // SQLITE_CONSTRAINT_NOTNULL
            ("INSERT INTO t (c) VALUES (?)", SQLValue.text("too long"), Int32(275)),  // SQLITE_CONSTRAINT_CHECK
            ("INSERT INTO t (p) VALUES (?)", SQLValue.integer(42), Int32(787)),  // SQLITE_CONSTRAINT_FOREIGNKEY
        ])
    func constraintViolation(sql: String, argument: SQLValue, code: Int32) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.database(dir)
        let error = #expect(throws: SQLiteError.self) { try db.run(sql, [argument]) }
        #expect(error?.code == code)
        #expect(error?.primaryCode == 19)
        #expect(error?.isConstraintViolation == true)
        #expect(error?.isBusy == false)
        #expect(error?.sql == sql)
        // Nothing was inserted, and the connection still works.
        #expect(try db.query("SELECT count(*) FROM t").first?[0] == .integer(1))
    }

    @Test("A syntax error carries the SQL and a generic error code")
    func syntaxError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        let sql = "SELEC name FROM nowhere WHERE x = ?"
        let error = #expect(throws: SQLiteError.self) { try db.query(sql, ["v"]) }
        #expect(error?.sql == sql)
        #expect(error?.primaryCode == 1)
        #expect(error?.isConstraintViolation == false)
        #expect(error?.description.contains(sql) == true)
        #expect(error?.description.contains("syntax error") == true)
        let viaExecute = #expect(throws: SQLiteError.self) { try db.execute("CREATE TABLE (") }
        #expect(viaExecute?.sql == "CREATE TABLE (")
        #expect(viaExecute?.primaryCode == 1)
    }

    @Test("Bound arguments never appear in an error's description")
    func argumentsNotInDescription() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.database(dir)
        let secret = "hunter2-s3cr3t"
        try db.run("INSERT INTO t (u) VALUES (?)", [.text(secret)])
        let duplicate = #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (u) VALUES (?)", [.text(secret)]) }
        let check = #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (c) VALUES (?)", [.text(secret)]) }
        let runtime = #expect(throws: SQLiteError.self) {
            try db.query("SELECT json_extract(?, '$.a')", [.text("{\"broken\": \(secret)")])
        }
        for error in [duplicate, check, runtime] {
            let error = try #require(error)
            #expect(!error.description.contains(secret))
            #expect(!error.message.contains(secret))
            #expect(error.sql?.contains(secret) == false)
        }
    }

    @Test("The description names the code, the message and the SQL")
    func descriptionFormat() {
        let error = SQLiteError(code: 2067, message: "UNIQUE constraint failed: t.u", sql: "INSERT INTO t VALUES (?)")
        #expect(error.description == "SQLite error 2067: UNIQUE constraint failed: t.u — in INSERT INTO t VALUES (?)")
        #expect(SQLiteError(code: 5, message: "database is locked").description == "SQLite error 5: database is locked")
        #expect(SQLiteError(code: 517, message: "locked").isBusy)  // SQLITE_BUSY_SNAPSHOT
        #expect(SQLiteError(code: 6, message: "locked").isBusy)  // SQLITE_LOCKED
    }
}
