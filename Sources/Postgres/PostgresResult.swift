/// The rows and counts of one statement, copied out of libpq's `PGresult` (which is cleared
/// before `execute` returns, so nothing here points into libpq).
///
/// A collection of `PostgresRow`s: `result.count`, `result.first`, `for row in result`,
/// `result[0]`. Values arrive in PostgreSQL's text format and are parsed when read, by the
/// row's typed accessors.
public struct PostgresResult: Sendable, RandomAccessCollection {
    /// The copied rows, shared with every `PostgresRow` taken from this result.
    let storage: ResultStorage

    /// The number of rows the command reports (`PQcmdTuples`): rows inserted, updated, deleted,
    /// selected, fetched, moved or copied; nil for commands without a count (`CREATE TABLE`,
    /// `BEGIN`, `LISTEN`, ...).
    public let affectedRows: Int?

    init(storage: ResultStorage, affectedRows: Int?) {
        self.storage = storage
        self.affectedRows = affectedRows
    }

    /// The column names in select order.
    public var columns: [String] { self.storage.columnNames }

    /// The first row's index: 0.
    public var startIndex: Int { 0 }
    /// The number of rows.
    public var endIndex: Int { self.storage.rowCount }

    /// The row at `index` (0-based).
    public subscript(index: Int) -> PostgresRow {
        precondition(index >= 0 && index < self.storage.rowCount, "row \(index) out of range 0..<\(self.storage.rowCount)")
        return PostgresRow(storage: self.storage, row: index)
    }
}

/// One row of a `PostgresResult`.
///
/// Each typed accessor takes a column position (0-based) or a column name, returns nil for SQL
/// NULL, and throws a `PostgresError` of kind `.result` if the column does not exist or has
/// another type:
///
/// | accessor | column types |
/// |---|---|
/// | `string` | `text`, `varchar`, `char(n)`, `"char"`, `name`, `json`, `jsonb`, `xml`, `uuid`, and parameters and literals of unknown type; cast anything else with `::text` |
/// | `int64` | `smallint`, `integer`, `bigint` |
/// | `double` | `real`, `double precision` |
/// | `bool` | `boolean` |
/// | `bytes` | `bytea` |
///
/// Names are matched exactly, byte for byte (the first column of that name wins): the names the
/// server reports, so an unquoted alias `AS Total` is `total`.
public struct PostgresRow: Sendable {
    /// The result this row belongs to.
    let storage: ResultStorage
    /// The row's index in it.
    let row: Int

    /// The column names in select order.
    public var columns: [String] { self.storage.columnNames }

    /// Whether the value in column `column` is SQL NULL.
    public func isNull(_ column: Int) throws(PostgresError) -> Bool {
        try self.checkColumn(column)
        return self.storage.cell(row: self.row, column: column) == nil
    }

    /// Whether the value in the column named `name` is SQL NULL.
    public func isNull(_ name: String) throws(PostgresError) -> Bool {
        try self.isNull(try self.storage.column(named: name))
    }

    /// The text in column `column`, or nil for NULL.
    public func string(_ column: Int) throws(PostgresError) -> String? {
        guard let bytes = try self.cell(column, accepting: PostgresType.stringTypes, reader: "string") else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text in the column named `name`, or nil for NULL.
    public func string(_ name: String) throws(PostgresError) -> String? {
        try self.string(try self.storage.column(named: name))
    }

    /// The integer in column `column`, or nil for NULL.
    public func int64(_ column: Int) throws(PostgresError) -> Int64? {
        guard let bytes = try self.cell(column, accepting: PostgresType.integerTypes, reader: "int64") else { return nil }
        guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else { throw self.unparsable(column, as: "an integer") }
        return value
    }

    /// The integer in the column named `name`, or nil for NULL.
    public func int64(_ name: String) throws(PostgresError) -> Int64? {
        try self.int64(try self.storage.column(named: name))
    }

    /// The number in column `column`, or nil for NULL.
    public func double(_ column: Int) throws(PostgresError) -> Double? {
        guard let bytes = try self.cell(column, accepting: PostgresType.floatTypes, reader: "double") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            // Exact as long as the session keeps the default extra_float_digits (1, PostgreSQL
            // 12 and later: the shortest text that reads back as the same value).
            guard let value = Double(text), value.isFinite else { throw self.unparsable(column, as: "a number") }
            return value
        }
    }

    /// The number in the column named `name`, or nil for NULL.
    public func double(_ name: String) throws(PostgresError) -> Double? {
        try self.double(try self.storage.column(named: name))
    }

    /// The boolean in column `column`, or nil for NULL.
    public func bool(_ column: Int) throws(PostgresError) -> Bool? {
        guard let bytes = try self.cell(column, accepting: [PostgresType.bool], reader: "bool") else { return nil }
        switch bytes.first {
        case UInt8(ascii: "t") where bytes.count == 1: return true
        case UInt8(ascii: "f") where bytes.count == 1: return false
        default: throw self.unparsable(column, as: "a boolean")
        }
    }

    /// The boolean in the column named `name`, or nil for NULL.
    public func bool(_ name: String) throws(PostgresError) -> Bool? {
        try self.bool(try self.storage.column(named: name))
    }

    /// The bytes in column `column` (a `bytea`), or nil for NULL.
    public func bytes(_ column: Int) throws(PostgresError) -> [UInt8]? {
        guard let text = try self.cell(column, accepting: [PostgresType.bytea], reader: "bytes") else { return nil }
        guard let value = ByteaText.decode(text) else { throw self.unparsable(column, as: "bytea") }
        return value
    }

    /// The bytes in the column named `name` (a `bytea`), or nil for NULL.
    public func bytes(_ name: String) throws(PostgresError) -> [UInt8]? {
        try self.bytes(try self.storage.column(named: name))
    }

    private func checkColumn(_ column: Int) throws(PostgresError) {
        guard column >= 0 && column < self.storage.columnCount else {
            throw PostgresError(kind: .result, message: "no column \(column): the result has \(self.storage.columnCount)")
        }
    }

    /// The text-format bytes of a cell whose type is one of `types`, nil for NULL.
    private func cell(_ column: Int, accepting types: Set<UInt32>, reader: String) throws(PostgresError) -> ArraySlice<UInt8>? {
        try self.checkColumn(column)
        let type = self.storage.columnTypes[column]
        guard types.contains(type) else {
            let accepted = types.sorted().map(PostgresType.name(of:)).joined(separator: ", ")
            throw PostgresError(
                kind: .result,
                message: "column \(column) (\(self.storage.columnNames[column])) is \(PostgresType.name(of: type)); "
                    + "\(reader) reads \(accepted) (cast in SQL if needed)")
        }
        return self.storage.cell(row: self.row, column: column)
    }

    private func unparsable(_ column: Int, as what: String) -> PostgresError {
        PostgresError(
            kind: .result, message: "column \(column) (\(self.storage.columnNames[column])) holds text that is not \(what)")
    }
}

/// A result's columns and every cell's text, in one buffer shared by its rows.
final class ResultStorage: Sendable {
    let columnNames: [String]
    /// Each column's type OID (`PQftype`).
    let columnTypes: [UInt32]
    let rowCount: Int
    /// Column positions by name, keyed by the UTF-8 bytes: Swift's `String ==` treats canonically
    /// equivalent names as equal, and this project compares names as bytes.
    private let columnIndex: [[UInt8]: Int]
    /// Every non-NULL cell's bytes, row by row.
    private let bytes: [UInt8]
    /// Per cell (row-major): where its bytes start in `bytes`, and how many; -1 for NULL.
    private let starts: [Int]
    private let lengths: [Int32]

    var columnCount: Int { self.columnNames.count }

    init(columnNames: [String], columnTypes: [UInt32], rowCount: Int, bytes: [UInt8], starts: [Int], lengths: [Int32]) {
        self.columnNames = columnNames
        self.columnTypes = columnTypes
        self.rowCount = rowCount
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
        var index: [[UInt8]: Int] = [:]
        for (i, name) in columnNames.enumerated() where index[Array(name.utf8)] == nil { index[Array(name.utf8)] = i }
        self.columnIndex = index
    }

    /// The cell's bytes, nil for NULL.
    func cell(row: Int, column: Int) -> ArraySlice<UInt8>? {
        let i = row * self.columnCount + column
        let length = self.lengths[i]
        guard length >= 0 else { return nil }
        return self.bytes[self.starts[i]..<self.starts[i] + Int(length)]
    }

    /// The position of the first column named exactly `name`.
    func column(named name: String) throws(PostgresError) -> Int {
        guard let i = self.columnIndex[Array(name.utf8)] else {
            throw PostgresError(kind: .result, message: "no column named \(name); the columns are \(self.columnNames)")
        }
        return i
    }
}

/// bytea's text output formats: `hex` (`\x` and two hex digits per byte, the default since
/// PostgreSQL 9.0) and the older `escape` (printable bytes as they are, `\\` for a backslash,
/// `\ooo` octal for the rest), which a session with `bytea_output = escape` gets.
enum ByteaText {
    /// The bytes `text` stands for, or nil if it is neither format.
    static func decode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let backslash = UInt8(ascii: "\\")
        var i = text.startIndex
        if text.count >= 2 && text[i] == backslash && text[i + 1] == UInt8(ascii: "x") {
            i += 2
            guard (text.endIndex - i) % 2 == 0 else { return nil }
            var result: [UInt8] = []
            result.reserveCapacity((text.endIndex - i) / 2)
            while i < text.endIndex {
                guard let high = hexValue(text[i]), let low = hexValue(text[i + 1]) else { return nil }
                result.append(high << 4 | low)
                i += 2
            }
            return result
        }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        while i < text.endIndex {
            let byte = text[i]
            guard byte == backslash else {
                result.append(byte)
                i += 1
                continue
            }
            if i + 1 < text.endIndex && text[i + 1] == backslash {
                result.append(backslash)
                i += 2
                continue
            }
            guard text.endIndex - i >= 4 else { return nil }
            var value: UInt16 = 0
            for digit in text[(i + 1)..<(i + 4)] {
                guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "7") else { return nil }
                value = value * 8 + UInt16(digit - UInt8(ascii: "0"))
            }
            guard value <= 0xff else { return nil }
            result.append(UInt8(value))
            i += 4
        }
        return result
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
