/// A JSON / JSON5 parser that, unlike Foundation's, rejects duplicate member names (Foundation's
/// two parsers disagree on which duplicate wins, so a reviewer and the program could read
/// different values), enforces a nesting limit, and records where each key path starts.
public struct JSONParser {
    /// A parsed document and the line on which each member's value starts, by key path
    /// (`roles.ops.grants[0].verbs`).
    public struct Document: Sendable {
        /// The value.
        public var value: JSONValue
        /// Line numbers of key paths.
        public var lines: [String: Int]
    }

    /// The deepest nesting of arrays and objects accepted.
    public static let maxDepth = 64

    private let bytes: [UInt8]
    private let json5: Bool
    /// Whether `lines` is kept: a request body's parse has no use for it, and building every
    /// member's key path was half the cost of parsing a trigger's body.
    private let recordsLines: Bool
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var lines: [String: Int] = [:]

    private init(_ bytes: [UInt8], json5: Bool, recordsLines: Bool) {
        self.bytes = bytes
        self.json5 = json5
        self.recordsLines = recordsLines
    }

    /// Parses a whole document.
    /// - Throws: `JSONError` at the first problem.
    public static func parse(_ bytes: [UInt8], json5: Bool) throws(JSONError) -> Document {
        try Self.parse(bytes, json5: json5, recordsLines: true)
    }

    /// Parses a whole document; without `recordsLines` the document's `lines` stay empty and a
    /// duplicate member's error names the member alone, not its key path.
    /// - Throws: `JSONError` at the first problem.
    public static func parse(_ bytes: [UInt8], json5: Bool, recordsLines: Bool) throws(JSONError) -> Document {
        var parser = JSONParser(bytes, json5: json5, recordsLines: recordsLines)
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }  // UTF-8 byte order mark
        try parser.skipSpace()
        let value = try parser.value(path: "", depth: 0)
        try parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the document") }
        return Document(value: value, lines: parser.lines)
    }

    private func error(_ message: String) -> JSONError {
        JSONError(message: message, line: self.line, column: self.index - self.lineStart + 1)
    }

    private var peek: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func advance() {
        if self.bytes[self.index] == 0x0A {
            self.line += 1
            self.lineStart = self.index + 1
        }
        self.index += 1
    }

    private mutating func skipSpace() throws(JSONError) {
        while let c = self.peek {
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D: self.advance()
            case 0x0B, 0x0C:  // vertical tab and form feed: JSON5 whitespace only
                guard self.json5 else { return }
                self.advance()
            case UInt8(ascii: "/") where self.json5:
                let next = self.index + 1 < self.bytes.count ? self.bytes[self.index + 1] : 0
                if next == UInt8(ascii: "/") {
                    while let d = self.peek, d != 0x0A { self.advance() }
                } else if next == UInt8(ascii: "*") {
                    self.advance()
                    self.advance()
                    while true {
                        guard let d = self.peek else { throw self.error("unterminated /* comment") }
                        if d == UInt8(ascii: "*"), self.index + 1 < self.bytes.count, self.bytes[self.index + 1] == UInt8(ascii: "/") {
                            self.advance()
                            self.advance()
                            break
                        }
                        self.advance()
                    }
                } else {
                    return
                }
            default: return
            }
        }
    }

    private mutating func value(path: String, depth: Int) throws(JSONError) -> JSONValue {
        guard let c = self.peek else { throw self.error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"): return try self.object(path: path, depth: depth + 1)
        case UInt8(ascii: "["): return try self.array(path: path, depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "'") where self.json5: return .string(try self.string())
        case UInt8(ascii: "t"): return try self.literal("true", .bool(true))
        case UInt8(ascii: "f"): return try self.literal("false", .bool(false))
        case UInt8(ascii: "n"): return try self.literal("null", .null)
        default: return .number(try self.number())
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(JSONError) -> JSONValue {
        for b in word.utf8 {
            guard self.peek == b else { throw self.error("unexpected character; expected \(word)") }
            self.advance()
        }
        return value
    }

    private mutating func object(path: String, depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw self.error("nested deeper than \(Self.maxDepth) levels") }
        self.advance()  // {
        var members: [String: JSONValue] = [:]
        try self.skipSpace()
        while self.peek != UInt8(ascii: "}") {
            let keyLine = self.line
            let key = try self.key()
            let childPath = path.isEmpty || !self.recordsLines ? key : "\(path).\(key)"
            guard members[key] == nil else {
                let first = self.lines[childPath].map { " (first on line \($0))" } ?? ""
                var duplicate = self.error("duplicate member \"\(key)\"\(first)")
                duplicate.path = childPath
                throw duplicate
            }
            try self.skipSpace()
            guard self.peek == UInt8(ascii: ":") else { throw self.error("expected ':' after member name") }
            self.advance()
            try self.skipSpace()
            if self.recordsLines { self.lines[childPath] = keyLine }
            members[key] = try self.value(path: childPath, depth: depth)
            try self.skipSpace()
            if self.peek == UInt8(ascii: ",") {
                self.advance()
                try self.skipSpace()
                if self.peek == UInt8(ascii: "}") && !self.json5 { throw self.error("trailing comma") }
            } else if self.peek != UInt8(ascii: "}") {
                throw self.error(self.peek == nil ? "unterminated object" : "expected ',' or '}'")
            }
        }
        self.advance()  // }
        return .object(members)
    }

    private mutating func array(path: String, depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw self.error("nested deeper than \(Self.maxDepth) levels") }
        self.advance()  // [
        var elements: [JSONValue] = []
        try self.skipSpace()
        while self.peek != UInt8(ascii: "]") {
            let childPath = self.recordsLines ? "\(path)[\(elements.count)]" : ""
            if self.recordsLines { self.lines[childPath] = self.line }
            elements.append(try self.value(path: childPath, depth: depth))
            try self.skipSpace()
            if self.peek == UInt8(ascii: ",") {
                self.advance()
                try self.skipSpace()
                if self.peek == UInt8(ascii: "]") && !self.json5 { throw self.error("trailing comma") }
            } else if self.peek != UInt8(ascii: "]") {
                throw self.error(self.peek == nil ? "unterminated array" : "expected ',' or ']'")
            }
        }
        self.advance()  // ]
        return .array(elements)
    }

    private mutating func key() throws(JSONError) -> String {
        guard let c = self.peek else { throw self.error("unterminated object") }
        if c == UInt8(ascii: "\"") || (self.json5 && c == UInt8(ascii: "'")) { return try self.string() }
        guard self.json5 else { throw self.error("expected a member name in double quotes") }
        // JSON5 identifier names; ASCII only here (Unicode identifiers are not needed in config).
        let isStart = { (b: UInt8) in (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x24 }
        guard isStart(c) else { throw self.error("expected a member name") }
        var name: [UInt8] = []
        while let b = self.peek, isStart(b) || (b >= 0x30 && b <= 0x39) {
            name.append(b)
            self.advance()
        }
        return String(decoding: name, as: UTF8.self)
    }

    private mutating func string() throws(JSONError) -> String {
        let quote = self.bytes[self.index]
        self.advance()
        var out: [UInt8] = []
        while true {
            guard let c = self.peek else { throw self.error("unterminated string") }
            if c == quote {
                self.advance()
                break
            }
            if c < 0x20 { throw self.error("control character in string (escape it)") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                self.advance()
                continue
            }
            self.advance()
            guard let e = self.peek else { throw self.error("unterminated string") }
            self.advance()
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try self.hex(4)
                if (0xD800...0xDBFF).contains(scalar) {
                    guard self.peek == UInt8(ascii: "\\") else { throw self.error("unpaired surrogate") }
                    self.advance()
                    guard self.peek == UInt8(ascii: "u") else { throw self.error("unpaired surrogate") }
                    self.advance()
                    let low = try self.hex(4)
                    guard (0xDC00...0xDFFF).contains(low) else { throw self.error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw self.error("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw self.error("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            case UInt8(ascii: "'") where self.json5: out.append(e)
            case UInt8(ascii: "v") where self.json5: out.append(0x0B)
            case UInt8(ascii: "0") where self.json5 && !(self.peek.map { $0 >= 0x30 && $0 <= 0x39 } ?? false): out.append(0)
            case UInt8(ascii: "x") where self.json5: out.append(UInt8(try self.hex(2)))
            case 0x0A where self.json5: break  // line continuation
            case 0x0D where self.json5: if self.peek == 0x0A { self.advance() }
            default: throw self.error("invalid escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw self.error("string is not valid UTF-8") }
        return text
    }

    private mutating func hex(_ count: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = self.peek, let digit = Self.hexDigit(c) else { throw self.error("expected a hex digit") }
            value = value << 4 | UInt32(digit)
            self.advance()
        }
        return value
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    private mutating func number() throws(JSONError) -> Double {
        let start = self.index
        var sign: Double = 1
        if self.peek == UInt8(ascii: "-") || (self.json5 && self.peek == UInt8(ascii: "+")) {
            if self.peek == UInt8(ascii: "-") { sign = -1 }
            self.advance()
        }
        if self.json5 {
            if self.peek == UInt8(ascii: "I") { return sign * (try self.literalNumber("Infinity", .infinity)) }
            if self.peek == UInt8(ascii: "N") { return try self.literalNumber("NaN", .nan) }
            if self.peek == UInt8(ascii: "0"), self.index + 1 < self.bytes.count, self.bytes[self.index + 1] | 0x20 == UInt8(ascii: "x") {
                self.advance()
                self.advance()
                var value: Double = 0
                var digits = 0
                while let c = self.peek, let d = Self.hexDigit(c) {
                    value = value * 16 + Double(d)
                    digits += 1
                    self.advance()
                }
                guard digits > 0 else { throw self.error("expected hex digits") }
                return sign * value
            }
        }
        var text: [UInt8] = []
        var intDigits = 0
        while let c = self.peek, c >= 0x30 && c <= 0x39 {
            text.append(c)
            intDigits += 1
            self.advance()
        }
        if intDigits > 1 && text.first == UInt8(ascii: "0") { throw self.error("leading zero in number") }
        var fracDigits = 0
        if self.peek == UInt8(ascii: ".") {
            text.append(UInt8(ascii: "."))
            self.advance()
            while let c = self.peek, c >= 0x30 && c <= 0x39 {
                text.append(c)
                fracDigits += 1
                self.advance()
            }
            if fracDigits == 0 && !(self.json5 && intDigits > 0) { throw self.error("expected digits after '.'") }
        }
        if intDigits == 0 && !(self.json5 && fracDigits > 0) {
            self.index = start
            throw self.error("unexpected character")
        }
        if let c = self.peek, c | 0x20 == UInt8(ascii: "e") {
            text.append(c)
            self.advance()
            if let s = self.peek, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                text.append(s)
                self.advance()
            }
            var expDigits = 0
            while let c = self.peek, c >= 0x30 && c <= 0x39 {
                text.append(c)
                expDigits += 1
                self.advance()
            }
            guard expDigits > 0 else { throw self.error("expected exponent digits") }
        }
        if text.first == UInt8(ascii: ".") { text.insert(UInt8(ascii: "0"), at: 0) }
        guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw self.error("invalid number") }
        return sign * value
    }

    private mutating func literalNumber(_ word: String, _ value: Double) throws(JSONError) -> Double {
        for b in word.utf8 {
            guard self.peek == b else { throw self.error("unexpected character") }
            self.advance()
        }
        return value
    }
}
