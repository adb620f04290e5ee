import Foundation

/// The type of a pipeline parameter. Values travel as strings (argv and environment); the type
/// validates them and puts them in one canonical spelling, so that `007` and `7` are the same
/// integer for grants, deduplication and display.
public enum ParameterType: Sendable, Hashable, CustomStringConvertible {
    /// Text, optionally limited in length (in characters).
    case string(minLength: Int?, maxLength: Int?)
    /// A whole number (64-bit), optionally within a closed range.
    case integer(min: Int64?, max: Int64?)
    /// A finite decimal number, optionally within a closed range.
    case number(min: Double?, max: Double?)
    /// `true` or `false`.
    case boolean
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// A date and time in ISO 8601 with a zone (`2026-11-23T12:00:00Z`), canonicalised to UTC.
    case datetime
    /// One of the listed strings.
    case choice([String])
    /// A comma-separated list of non-empty items (spaces around items are dropped).
    case list(maxItems: Int?)

    /// The type's name in configuration and the API.
    public var name: String {
        switch self {
        case .string: "string"
        case .integer: "int"
        case .number: "float"
        case .boolean: "bool"
        case .date: "date"
        case .datetime: "datetime"
        case .choice: "choice"
        case .list: "list"
        }
    }

    public var description: String { self.name }

    /// The canonical form of `value`, or why it is not a valid value of this type.
    public func canonical(_ value: String) -> Result<String, ParameterValueError> {
        switch self {
        case .string(let minLength, let maxLength):
            let count = value.count
            if let minLength, count < minLength { return .failure(.init("at least \(minLength) characters")) }
            if let maxLength, count > maxLength { return .failure(.init("at most \(maxLength) characters")) }
            return .success(value)
        case .integer(let min, let max):
            guard Self.isPlainInteger(value), let n = Int64(value.hasPrefix("+") ? String(value.dropFirst()) : value) else {
                return .failure(.init("must be a whole number"))
            }
            if let min, n < min { return .failure(.init("must be at least \(min)")) }
            if let max, n > max { return .failure(.init("must be at most \(max)")) }
            return .success(String(n))
        case .number(let min, let max):
            guard Self.isPlainDecimal(value), let n = Double(value), n.isFinite else { return .failure(.init("must be a decimal number")) }
            if let min, n < min { return .failure(.init("must be at least \(min)")) }
            if let max, n > max { return .failure(.init("must be at most \(max)")) }
            return .success(Self.text(of: n))
        case .boolean:
            // ASCII case folding on bytes: no Unicode lower-casing or canonical equivalence
            // decides what counts as `true`.
            let folded = value.utf8.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }
            if folded.elementsEqual("true".utf8) { return .success("true") }
            if folded.elementsEqual("false".utf8) { return .success("false") }
            return .failure(.init("must be true or false"))
        case .date:
            guard let date = Self.date(value) else { return .failure(.init("must be a date, YYYY-MM-DD")) }
            return .success(date)
        case .datetime:
            guard value.utf8.count <= 40, RFC3339.isDateTime(value), let date = try? Date(value, strategy: .iso8601) else {
                return .failure(.init("must be an ISO 8601 date-time with a zone, e.g. 2026-11-23T12:00:00Z"))
            }
            return .success(date.formatted(.iso8601))
        case .choice(let values):
            guard values.contains(where: { $0.utf8.elementsEqual(value.utf8) }) else {
                return .failure(.init("must be one of: \(values.joined(separator: ", "))"))
            }
            return .success(value)
        case .list(let maxItems):
            let items = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !items.contains(where: \.isEmpty) else { return .failure(.init("must be a comma-separated list of non-empty items")) }
            if let maxItems, items.count > maxItems { return .failure(.init("at most \(maxItems) items")) }
            return .success(items.joined(separator: ","))
        }
    }

    /// `[+-]?[0-9]+`, at most 20 characters: no spaces, hex, underscores or exponents.
    private static func isPlainInteger(_ s: String) -> Bool {
        var bytes = Substring(s).utf8[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        return !bytes.isEmpty && s.utf8.count <= 20 && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Digits with an optional sign, point and exponent; no `inf`, `nan`, hex or spaces.
    private static func isPlainDecimal(_ s: String) -> Bool {
        s.utf8.count <= 40 && s.utf8.contains { $0 >= 0x30 && $0 <= 0x39 }
            && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x2B || $0 == 0x65 || $0 == 0x45 }
    }

    /// `YYYY-MM-DD` naming a real calendar day.
    private static func date(_ s: String) -> String? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard s.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), d >= 1
        else { return nil }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return d <= days ? s : nil
    }
}

/// Why a value does not fit its parameter's type.
public struct ParameterValueError: Error, Sendable, Hashable {
    /// The message shown next to the field.
    public let message: String
    init(_ message: String) { self.message = message }
}

extension ParameterType {
    /// Whether a JSON number is an acceptable way to write a value (int and float).
    public var acceptsJSONNumber: Bool {
        switch self {
        case .integer, .number: true
        default: false
        }
    }

    /// The canonical text of a number value: whole numbers without a fraction (`2`, not `2.0`).
    public static func text(of number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    /// Whether values are lists (a JSON array of strings is then acceptable).
    public var isList: Bool {
        if case .list = self { return true }
        return false
    }
}
