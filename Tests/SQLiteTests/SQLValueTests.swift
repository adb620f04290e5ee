import Foundation
import SQLite
import TestSupport
import Testing

@Suite struct SQLValueTests {
    static let values: [SQLValue] = [
        .null,
        .integer(0), .integer(-1), .integer(42), .integer(Int64.min), .integer(Int64.max),
        .real(0.5), .real(-3.25), .real(1.0), .real(Double.pi), .real(Double.greatestFiniteMagnitude),
        .real(Double.leastNonzeroMagnitude), .real(-Double.infinity),
        .text(""), .text("plain"), .text("it's \"quoted\"; DROP TABLE t; --"),
        .text("Grüße, 東京, Ελληνικά, 🚀, 👩‍👩‍👧‍👦, 🇨🇭"), .text("line\nbreak\ttab\u{1}control"),
        .blob([]), .blob([0]), .blob([0, 1, 2, 0xff, 0x00, 0x7f]), .blob(Array(repeating: 0xab, count: 100_000)),
    ]

    @Test("Every kind of value round-trips through bind and select unchanged", arguments: values)
    func roundTrip(value: SQLValue) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        // No declared type: no column affinity, so SQLite stores exactly what was bound.
        try db.execute("CREATE TABLE t (v)")
        try db.run("INSERT INTO t VALUES (?)", [value])
        let rows = try db.query("SELECT v, typeof(v) FROM t")
        try #require(rows.count == 1)
        #expect(rows[0][0] == value)
        let expectedType: String =
            switch value {
            case .null: "null"
            case .integer: "integer"
            case .real: "real"
            case .text: "text"
            case .blob: "blob"
            }
        #expect(rows[0][1] == .text(expectedType))
    }

    @Test("Text keeps its exact UTF-8 bytes, including decomposed characters")
    func textBytesExact() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (v)")
        // Swift's String == uses canonical equivalence, so compare bytes.
        let decomposed = "e\u{301}"
        let precomposed = "\u{e9}"
        try db.run("INSERT INTO t VALUES (?)", [.text(decomposed)])
        try db.run("INSERT INTO t VALUES (?)", [.text(precomposed)])
        let texts = try db.query("SELECT v FROM t ORDER BY rowid").map { $0[0].text }
        #expect(texts.map { $0.map { Array($0.utf8) } } == [Array(decomposed.utf8), Array(precomposed.utf8)])
        #expect(try db.query("SELECT length(v) FROM t ORDER BY rowid").map { $0[0] } == [.integer(2), .integer(1)])
    }

    @Test("An empty blob stays an empty blob, not NULL")
    func emptyBlobIsNotNull() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        try db.execute("CREATE TABLE t (v)")
        try db.run("INSERT INTO t VALUES (?)", [.blob([])])
        #expect(try db.query("SELECT v IS NULL, length(v) FROM t").first?.values == [.integer(0), .integer(0)])
    }

    @Test("Several arguments bind to their positions in order")
    func positionalBinding() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.file("db.sqlite"))
        let row = try db.query("SELECT ?, ?, ?, ?, ?", [.integer(7), .text("x"), .null, .real(2.5), .blob([1])]).first
        #expect(row?.values == [.integer(7), .text("x"), .null, .real(2.5), .blob([1])])
    }

    @Test("Literals and accessors convert as documented")
    func literalsAndAccessors() {
        let text: SQLValue = "abc"
        let int: SQLValue = 12
        let null: SQLValue = nil
        #expect(text == .text("abc"))
        #expect(int == .integer(12))
        #expect(null == .null)
        #expect(int.int64 == 12 && int.double == 12.0 && int.text == nil)
        #expect(SQLValue.real(1.5).double == 1.5 && SQLValue.real(1.5).int64 == nil)
        #expect(text.text == "abc" && text.int64 == nil && text.double == nil)
        #expect(SQLValue.blob([1]).double == nil)
        #expect(Optional<String>.none.sqlValue == .null)
        #expect(Optional("x").sqlValue == .text("x"))
    }
}
