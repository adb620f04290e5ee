import Postgres
import Testing

@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresResultTests {
    @Test("Rows are read by position and by name; names match byte for byte")
    func byPositionAndName() throws {
        let db = try TestCluster.connect()
        let result = try db.execute(#"SELECT 1::int8 AS id, 'a'::text AS "Name", 'b'::text AS "K", 'c'::text AS "\#u{212A}""#)
        let row = try #require(result.first)
        #expect(row.columns == ["id", "Name", "K", "\u{212A}"])
        #expect(try row.int64("id") == 1)
        #expect(try row.string("Name") == "a")
        #expect(try row.string("K") == "b")
        #expect(try row.string("\u{212A}") == "c")
        let missing = #expect(throws: PostgresError.self) { try row.string("name") }
        #expect(missing?.kind == .result)
    }

    @Test("Reading a column as another type is an error that names both types")
    func typeMismatch() throws {
        let db = try TestCluster.connect()
        let row = try #require(
            try db.execute("SELECT 'x'::text AS t, 1::int4 AS i, true AS b, '\\x00'::bytea AS y, 1.5::numeric AS n").first)
        let intFromText = try #require(throws: PostgresError.self) { try row.int64("t") }
        #expect(intFromText.kind == .result)
        #expect(intFromText.message.contains("text"))
        #expect(intFromText.message.contains("bigint"))
        #expect(throws: PostgresError.self) { try row.string("i") }
        #expect(throws: PostgresError.self) { try row.bool("i") }
        #expect(throws: PostgresError.self) { try row.int64("b") }
        #expect(throws: PostgresError.self) { try row.string("y") }
        #expect(throws: PostgresError.self) { try row.bytes("t") }
        let numeric = try #require(throws: PostgresError.self) { try row.double("n") }
        #expect(numeric.message.contains("numeric"))
    }

    @Test("Column positions outside the result are errors, not crashes")
    func columnOutOfRange() throws {
        let db = try TestCluster.connect()
        let row = try #require(try db.execute("SELECT 1::int8").first)
        #expect((#expect(throws: PostgresError.self) { try row.int64(1) })?.kind == .result)
        #expect((#expect(throws: PostgresError.self) { try row.isNull(-1) })?.kind == .result)
    }

    @Test("affectedRows counts inserted, updated, deleted and selected rows, and is nil for commands without a count")
    func affectedRows() throws {
        let db = try TestCluster.connect()
        #expect(try db.execute("CREATE TEMP TABLE counted (x int8)").affectedRows == nil)
        #expect(try db.execute("INSERT INTO counted SELECT generate_series(1, 5)").affectedRows == 5)
        #expect(try db.execute("UPDATE counted SET x = x + 1 WHERE x > $1", [.int64(2)]).affectedRows == 3)
        #expect(try db.execute("DELETE FROM counted WHERE x = $1", [.int64(100)]).affectedRows == 0)
        let selected = try db.execute("SELECT x FROM counted ORDER BY x")
        #expect(selected.affectedRows == 5)
        #expect(selected.count == 5)
        #expect(try selected.map { try $0.int64(0) } == [1, 2, 4, 5, 6])
        #expect(try db.execute("SELECT x FROM counted WHERE false").isEmpty)
    }

    @Test("A unique violation has SQLSTATE 23505, the constraint's name, and leaves the connection usable")
    func uniqueViolation() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE people (name text CONSTRAINT people_name_key UNIQUE)")
        try db.execute("INSERT INTO people VALUES ($1)", ["ada"])
        let error = try #require(throws: PostgresError.self) { try db.execute("INSERT INTO people VALUES ($1)", ["ada"]) }
        #expect(error.kind == .query)
        #expect(error.sqlState == "23505")
        #expect(error.isUniqueViolation)
        #expect(error.isConstraintViolation)
        #expect(!error.isSerializationFailure)
        #expect(error.constraint == "people_name_key")
        #expect(error.detail?.contains("already exists") == true)
        #expect(error.sql == "INSERT INTO people VALUES ($1)")
        // The description, which goes to logs, carries neither the value nor the detail.
        #expect(!error.description.contains("ada"))
        #expect(db.status == .ok)
        #expect(try db.execute("SELECT count(*) FROM people").first?.int64(0) == 1)
    }

    @Test("Other server errors carry their SQLSTATE: syntax, undefined table, not null, check")
    func otherErrors() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE checked (n int8 NOT NULL CHECK (n > 0))")
        let cases: [(String, [PostgresValue?], String)] = [
            ("SELEC 1", [], "42601"),
            ("SELECT * FROM no_such_table_at_all", [], "42P01"),
            ("INSERT INTO checked VALUES ($1)", [nil], "23502"),
            ("INSERT INTO checked VALUES ($1)", [.int64(-1)], "23514"),
            ("SELECT $1::int8", [.text("twelve")], "22P02"),
        ]
        for (sql, parameters, state) in cases {
            let error = #expect(throws: PostgresError.self) { try db.execute(sql, parameters) }
            #expect(error?.sqlState == state, "\(sql)")
            #expect(error?.kind == .query, "\(sql)")
        }
    }
}
