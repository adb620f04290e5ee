/// One argv element with `{param}` placeholders; `{{` and `}}` stand for literal braces.
///
/// Substitution replaces a placeholder by the whole parameter value inside this one element:
/// no shell ever sees it, and no value can split into several arguments.
public struct ArgvTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Piece: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    /// The element as written.
    public let text: String
    let pieces: [Piece]

    /// Parses a template.
    /// - Throws: `TemplateError` for an unclosed `{`, a lone `}`, or an empty or malformed name.
    public init(_ text: String) throws(TemplateError) {
        self.text = text
        var pieces: [Piece] = []
        var literal = ""
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            switch c {
            case "{":
                if chars.first == "{" {
                    chars.removeFirst()
                    literal.append("{")
                    continue
                }
                guard let close = chars.firstIndex(of: "}") else { throw TemplateError("unclosed '{' in \"\(text)\"") }
                let name = String(chars[chars.startIndex..<close])
                guard ParameterName.isValid(name) else { throw TemplateError("invalid parameter name {\(name)} in \"\(text)\"") }
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.parameter(name))
                chars = chars[chars.index(after: close)...]
            case "}":
                guard chars.first == "}" else { throw TemplateError("lone '}' in \"\(text)\" (write }} for a literal brace)") }
                chars.removeFirst()
                literal.append("}")
            default:
                literal.append(c)
            }
        }
        if !literal.isEmpty || pieces.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
    }

    /// The parameter names this element uses.
    public var parameterNames: [String] {
        self.pieces.compactMap { if case .parameter(let n) = $0 { n } else { nil } }
    }

    /// The element with every placeholder replaced; a missing value becomes empty.
    public func render(_ values: [String: String]) -> String {
        self.pieces.map {
            switch $0 {
            case .literal(let s): s
            case .parameter(let n): values[n] ?? ""
            }
        }.joined()
    }

    public var description: String { self.text }
}

/// A malformed argv template.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { self.reason }
}

/// Rules for names used in configuration.
public enum ParameterName {
    /// `[a-z_][a-z0-9_]*`, at most 64 characters.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        let lowerOrUnderscore = { (b: UInt8) in (b >= 0x61 && b <= 0x7a) || b == 0x5f }
        return lowerOrUnderscore(first) && name.utf8.allSatisfy { lowerOrUnderscore($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}

/// Rules for pipeline and task names, which appear in URLs and log file names.
public enum ObjectName {
    /// `[A-Za-z0-9][A-Za-z0-9._-]*`, at most 100 characters.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 100 else { return false }
        let alnum = { (b: UInt8) in (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) }
        return alnum(first) && name.utf8.allSatisfy { alnum($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
    }
}

/// Rules for environment variable names a configuration may set or pass through.
public enum EnvironmentName {
    /// `[A-Za-z_][A-Za-z0-9_]*`, at most 128 characters.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 128 else { return false }
        let letter = { (b: UInt8) in (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}
