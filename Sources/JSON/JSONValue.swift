public import Foundation

/// A parsed JSON (or JSON5) document, kept generic so that readers can report unknown keys and
/// wrong types with the key path instead of failing on the first problem.
public indirect enum JSONValue: Sendable, Hashable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// Parses strict JSON (RFC 8259), or JSON5 when `json5` is set (comments, unquoted keys,
    /// single quotes, trailing commas, hex numbers). Duplicate member names are an error in both.
    /// - Throws: `JSONError` with the line and column of the problem.
    public static func parse(_ data: Data, json5: Bool = false) throws(JSONError) -> JSONValue {
        try Self.parse(Array(data), json5: json5)
    }

    /// Parses JSON (or JSON5) text from its bytes, without recording where members start.
    public static func parse(_ bytes: [UInt8], json5: Bool = false) throws(JSONError) -> JSONValue {
        try JSONParser.parse(bytes, json5: json5, recordsLines: false).value
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// A syntax error, with its position.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// 1-based line.
    public var line: Int
    /// 1-based column (in bytes).
    public var column: Int
    /// The key path of the member concerned, when there is one (duplicate members).
    public var path: String?

    /// Creates an error.
    public init(message: String, line: Int, column: Int, path: String? = nil) {
        self.message = message
        self.line = line
        self.column = column
        self.path = path
    }

    public var description: String { "line \(self.line), column \(self.column): \(self.message)" }
}
