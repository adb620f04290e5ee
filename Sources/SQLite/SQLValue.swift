/// A value bound to or read from SQLite.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The value as an integer, if it is one.
    public var int64: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }

    /// The value as text, if it is text.
    public var text: String? {
        if case .text(let v) = self { return v }
        return nil
    }

    /// The value as a double (integers convert), if numeric.
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension Optional where Wrapped == String {
    /// The string as text, or NULL.
    public var sqlValue: SQLValue { self.map(SQLValue.text) ?? .null }
}

/// One result row, copied out of SQLite (text pointers from `sqlite3_column_text` are only valid
/// until the next step, so rows never borrow).
public struct Row: Sendable {
    /// Column values in select order.
    public let values: [SQLValue]
    private let names: ColumnNames

    /// Column names in select order.
    public var columns: [String] { self.names.names }

    init(values: [SQLValue], names: ColumnNames) {
        self.values = values
        self.names = names
    }

    /// The value of column `index`.
    public subscript(index: Int) -> SQLValue { self.values[index] }

    /// The value of the column named `name` (first match), or `.null`.
    public subscript(name: String) -> SQLValue {
        guard let i = self.names.index[name] else { return .null }
        return self.values[i]
    }
}

/// The column names of a result, with a name → position table shared by all its rows (a
/// linear search of the names per lookup showed in profiles of wide `SELECT *` rows).
final class ColumnNames: Sendable {
    let names: [String]
    let index: [String: Int]

    init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        self.index = index
    }
}
