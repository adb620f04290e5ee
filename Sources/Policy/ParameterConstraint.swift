public import ByteStrings

/// A limit a grant puts on one parameter's value: the grant applies only to triggers (and jobs)
/// whose value satisfies it.
public enum ParameterConstraint: Sendable, Hashable, CustomStringConvertible {
    /// The value must be one of these strings, compared as bytes (`"Ko\u{308}ln"` is not
    /// `"Köln"`: a task would receive other bytes than the grant names).
    case oneOf(Set<ByteString>)
    /// The value must be a decimal number within the closed range.
    case range(min: Double?, max: Double?)
    /// The value must match a glob (`*` any run, `?` one character). Globs, not regular
    /// expressions: matching is linear in the value's length, so no pattern can backtrack
    /// catastrophically on hostile input.
    case pattern(GlobPattern)

    /// Whether `value` satisfies the constraint. A missing value never does.
    public func admits(_ value: String?) -> Bool {
        guard let value else { return false }
        switch self {
        case .oneOf(let values): return values.contains(ByteString(value))
        case .range(let min, let max):
            // Plain decimal numbers only: no "inf", "nan", hex or whitespace sneaking past a range.
            guard value.utf8.count <= 40,
                value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x2B || $0 == 0x65 || $0 == 0x45 }),
                let number = Double(value), number.isFinite
            else { return false }
            return (min.map { number >= $0 } ?? true) && (max.map { number <= $0 } ?? true)
        case .pattern(let glob):
            return glob.matches(value)
        }
    }

    /// Whether no value at all can satisfy the constraint (an empty list, or min above max).
    public var isUnsatisfiable: Bool {
        switch self {
        case .oneOf(let values): values.isEmpty
        case .range(let min, let max): (min != nil && max != nil && min! > max!)
        case .pattern: false
        }
    }

    public var description: String {
        switch self {
        case .oneOf(let values): "one of \(values.sorted().map(\.string).joined(separator: ", "))"
        case .range(let min, let max): "a number from \(min.map { "\($0)" } ?? "-∞") to \(max.map { "\($0)" } ?? "∞")"
        case .pattern(let glob): "matching \(glob)"
        }
    }
}
