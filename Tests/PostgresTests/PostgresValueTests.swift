import Postgres
import Testing

/// Parameters sent and results read back through a real server.
@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresValueTests {
    @Test("Every value type goes in as a parameter and comes back unchanged, NULL included")
    func roundTrips() throws {
        let db = try TestCluster.connect()
        let result = try db.execute(
            "SELECT $1::text AS t, $2::int8 AS i, $3::float8 AS d, $4::bool AS b, $5::bytea AS y, $6::text AS n",
            ["héllo wörld", .int64(-42), .double(2.5), true, .bytes([0, 1, 254, 255]), nil])
        let row = try #require(result.first)
        #expect(result.count == 1)
        #expect(result.columns == ["t", "i", "d", "b", "y", "n"])
        #expect(try row.string("t") == "héllo wörld")
        #expect(try row.int64("i") == -42)
        #expect(try row.double("d") == 2.5)
        #expect(try row.bool("b") == true)
        #expect(try row.bytes("y") == [0, 1, 254, 255])
        #expect(try row.string("n") == nil)
        #expect(try row.isNull("n"))
        #expect(try !row.isNull("t"))
    }

    @Test("Typed parameters need no casts: the server learns int8, float8, bool and bytea from them")
    func parameterTypes() throws {
        let db = try TestCluster.connect()
        let row = try #require(
            try db.execute(
                "SELECT pg_typeof($1)::text, pg_typeof($2)::text, pg_typeof($3)::text, pg_typeof($4)::text, $1, $2, $3, $4",
                [.int64(7), .double(0.5), .bool(false), .bytes([9])]
            ).first)
        #expect(try [row.string(0), row.string(1), row.string(2), row.string(3)] == ["bigint", "double precision", "boolean", "bytea"])
        #expect(try row.int64(4) == 7)
        #expect(try row.double(5) == 0.5)
        #expect(try row.bool(6) == false)
        #expect(try row.bytes(7) == [9])
    }

    @Test("Text parameters take the column's type: jsonb, uuid, timestamptz, integer")
    func textParametersAreInferred() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE inferred (j jsonb, u uuid, at timestamptz, n int4)")
        try db.execute(
            "INSERT INTO inferred VALUES ($1, $2, $3, $4)",
            [.text(#"{"a": [1, 2]}"#), .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), .text("2024-01-02T03:04:05Z"), .text("12")])
        let row = try #require(try db.execute("SELECT j, u, extract(epoch FROM at)::int8 AS at, n FROM inferred").first)
        #expect(try row.string("j") == #"{"a": [1, 2]}"#)
        #expect(try row.string("u") == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        #expect(try row.int64("at") == 1_704_164_645)
        #expect(try row.int64("n") == 12)
    }

    @Test("NULL of every type goes in and comes back as nil")
    func nulls() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE nullable (t text, i int8, d float8, b bool, y bytea)")
        let inserted = try db.execute("INSERT INTO nullable VALUES ($1, $2, $3, $4, $5)", [nil, nil, nil, nil, nil])
        #expect(inserted.affectedRows == 1)
        let row = try #require(try db.execute("SELECT * FROM nullable").first)
        #expect(try row.string("t") == nil)
        #expect(try row.int64("i") == nil)
        #expect(try row.double("d") == nil)
        #expect(try row.bool("b") == nil)
        #expect(try row.bytes("y") == nil)
        for column in 0..<5 { #expect(try row.isNull(column)) }
    }

    @Test("Integers at the edges of Int64, and smallint and integer columns, read back exactly")
    func integers() throws {
        let db = try TestCluster.connect()
        for value in [Int64.min, Int64.min + 1, -1, 0, 1, Int64(Int32.max) + 1, Int64.max] {
            #expect(try db.execute("SELECT $1::int8", [.int64(value)]).first?.int64(0) == value)
        }
        let row = try #require(try db.execute("SELECT (-32768)::int2, 2147483647::int4").first)
        #expect(try row.int64(0) == -32768)
        #expect(try row.int64(1) == 2_147_483_647)
        // An integer parameter fills an int4 column when it fits, and is refused when it does not.
        try db.execute("CREATE TEMP TABLE small (n int4)")
        try db.execute("INSERT INTO small VALUES ($1)", [.int64(5)])
        let error = #expect(throws: PostgresError.self) { try db.execute("INSERT INTO small VALUES ($1)", [.int64(Int64.max)]) }
        #expect(error?.sqlState == "22003")
    }

    @Test("Doubles round-trip exactly, the special values included")
    func doubles() throws {
        let db = try TestCluster.connect()
        let values: [Double] = [
            0, -0.0, 0.1, 1.0 / 3, -2.5e-300, .pi, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude,
            .infinity, -.infinity, 123_456_789.123_456_78,
        ]
        for value in values {
            let read = try #require(try db.execute("SELECT $1::float8", [.double(value)]).first?.double(0))
            #expect(read == value)
            #expect(read.sign == value.sign)
        }
        #expect(try db.execute("SELECT $1::float8", [.double(.nan)]).first?.double(0)?.isNaN == true)
        #expect(try db.execute("SELECT 'NaN'::float4").first?.double(0)?.isNaN == true)
        #expect(try db.execute("SELECT 1.5::float4").first?.double(0) == 1.5)
    }

    @Test("bytea: all 256 byte values, and the empty value, round-trip; both output formats read back")
    func bytea() throws {
        let db = try TestCluster.connect()
        let every = (0...255).map(UInt8.init)
        try db.execute("CREATE TEMP TABLE blobs (id int8, y bytea)")
        try db.execute("INSERT INTO blobs VALUES (1, $1), (2, $2), (3, $3)", [.bytes(every), .bytes([]), .bytes(every.reversed())])
        #expect(try db.execute("SELECT length(y) FROM blobs WHERE id = 1").first?.int64(0) == 256)
        for format in ["hex", "escape"] {
            try db.execute("SELECT set_config('bytea_output', $1, false)", [.text(format)])
            let rows = try db.execute("SELECT y FROM blobs ORDER BY id")
            #expect(try rows[0].bytes(0) == every, "bytea_output = \(format)")
            #expect(try rows[1].bytes(0) == [], "bytea_output = \(format)")
            #expect(try rows[2].bytes(0) == every.reversed(), "bytea_output = \(format)")
        }
        // The parameter is compared as bytes on the server too.
        #expect(try db.execute("SELECT id FROM blobs WHERE y = $1", [.bytes(every)]).first?.int64(0) == 1)
    }

    @Test("Unicode text round-trips byte for byte")
    func unicodeText() throws {
        let db = try TestCluster.connect()
        let texts = [
            "", "plain", "ünïcödé", "日本語テキスト", "emoji 🧪👩‍🔬🏳️‍🌈", "RTL עברית العربية", "e\u{301} vs \u{E9}",
            "tab\tnewline\nquote'double\"backslash\\", "\u{FEFF}BOM and \u{10FFFF}", String(repeating: "ß", count: 1000),
        ]
        for text in texts {
            let read = try #require(try db.execute("SELECT $1::text, octet_length($1::text)", [.text(text)]).first)
            #expect(try read.string(0).map { Array($0.utf8) } == Array(text.utf8))
            #expect(try read.int64(1) == Int64(text.utf8.count))
        }
    }

    @Test("Canonically equivalent but different strings stay different in a UNIQUE column")
    func canonicalEquivalents() throws {
        let db = try TestCluster.connect()
        // Swift's String == says these pairs are equal; the database, as this project, compares bytes.
        let pairs: [(String, String)] = [("K", "\u{212A}"), ("\u{E9}", "e\u{301}"), ("\u{212B}", "\u{C5}")]
        try db.execute("CREATE TEMP TABLE names (name text UNIQUE)")
        for (a, b) in pairs {
            #expect(a == b)  // U+212A and U+212B decompose canonically to K and Å
            #expect(Array(a.utf8) != Array(b.utf8))
            try db.execute("INSERT INTO names VALUES ($1)", [.text(a)])
            try db.execute("INSERT INTO names VALUES ($1)", [.text(b)])
            #expect(try db.execute("SELECT count(*) FROM names WHERE name = $1", [.text(a)]).first?.int64(0) == 1)
            #expect(try db.execute("SELECT count(*) FROM names WHERE name = $1", [.text(b)]).first?.int64(0) == 1)
        }
        let rows = try db.execute("SELECT name FROM names")
        #expect(rows.count == 6)
        let stored = try rows.map { row in try row.string(0).map { Array($0.utf8) } }
        #expect(Set(stored).count == 6)
        // The same bytes again are a duplicate.
        let error = #expect(throws: PostgresError.self) { try db.execute("INSERT INTO names VALUES ($1)", [.text("\u{212A}")]) }
        #expect(error?.isUniqueViolation == true)
    }

    @Test("An SQL injection attempt through a parameter is just a value")
    func injectionIsInert() throws {
        let db = try TestCluster.connect()
        let table = TestCluster.uniqueName("victims")
        try db.execute("CREATE TEMP TABLE \(table) (name text)")
        let hostile = [
            "x'); DROP TABLE \(table); --", "' OR '1'='1", "\\'; DROP TABLE \(table); --", "$1", "'; COMMIT; DROP TABLE \(table); --",
        ]
        for value in hostile {
            try db.execute("INSERT INTO \(table) VALUES ($1)", [.text(value)])
        }
        let rows = try db.execute("SELECT name FROM \(table) ORDER BY name")
        #expect(Set(try rows.map { try $0.string(0) }) == Set(hostile))
        #expect(try db.execute("SELECT count(*) FROM \(table) WHERE name = $1", [.text("' OR '1'='1")]).first?.int64(0) == 1)
    }

    @Test("Text with a NUL character is refused before it is sent")
    func nulRefused() throws {
        let db = try TestCluster.connect()
        try db.execute("BEGIN")
        let error = #expect(throws: PostgresError.self) { try db.execute("SELECT $1::text", [.text("a\u{0}b")]) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("$1") == true)
        let sql = #expect(throws: PostgresError.self) { try db.execute("SELECT 1\u{0}; DROP TABLE x") }
        #expect(sql?.kind == .invalidArgument)
        // Nothing reached the server: the transaction is not aborted.
        #expect(try db.execute("SELECT 1::int8").first?.int64(0) == 1)
        try db.execute("COMMIT")
    }

    @Test("A 10 MB text parameter goes in and comes back whole")
    func largeText() throws {
        let db = try TestCluster.connect()
        let text = String(repeating: "0123456789abcdef", count: 10 * 1024 * 1024 / 16)
        try db.execute("CREATE TEMP TABLE large (body text)")
        try db.execute("INSERT INTO large VALUES ($1)", [.text(text)])
        let row = try #require(try db.execute("SELECT body, length(body) FROM large").first)
        #expect(try row.int64(1) == 10 * 1024 * 1024)
        #expect(try row.string(0) == text)
    }

    @Test("Many parameters in one statement")
    func manyParameters() throws {
        let db = try TestCluster.connect()
        let values = (1...1000).map { PostgresValue.int64(Int64($0)) }
        let placeholders = (1...1000).map { "$\($0)" }.joined(separator: " + ")
        #expect(try db.execute("SELECT \(placeholders)", values).first?.int64(0) == 500_500)
    }
}
