/// Text with `{name}` placeholders and `{{`/`}}` for literal braces, parsed once: the shape of a
/// schedule's parameter values (`FireTimeTemplate`) and of a chain's (`ChainTemplate`).
public struct BracedTemplate: Sendable, Hashable {
    /// The text as written.
    public let source: String
    /// Literal text and placeholder names, in order.
    public let parts: [Part]

    /// A piece of the text.
    public enum Part: Sendable, Hashable {
        /// Text copied as is (braces already unescaped).
        case literal(String)
        /// A placeholder's name, between its braces.
        case placeholder(String)
    }

    /// Parses `source`; `isKnown` says which names are placeholders, `known` lists them for the
    /// error message.
    /// - Throws: `CronError` naming an unknown placeholder or an unpaired brace.
    public init(_ source: String, isKnown: (String) -> Bool, known: String) throws(CronError) {
        self.source = source
        var parts: [Part] = []
        var literal: [UInt8] = []
        let bytes = Array(source.utf8)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "}") {
                if i + 1 < bytes.count, bytes[i + 1] == byte {
                    literal.append(byte)
                    i += 2
                    continue
                }
                guard byte == UInt8(ascii: "{"), let close = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw CronError("an unpaired \(byte == UInt8(ascii: "{") ? "{" : "}") (write {{ or }} for a brace)")
                }
                let name = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                guard isKnown(name) else { throw CronError("{\(name)} is not a placeholder (known: \(known))") }
                if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
                literal = []
                parts.append(.placeholder(name))
                i = close + 1
            } else {
                literal.append(byte)
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
        self.parts = parts
    }

    /// The text with each placeholder replaced by `value(name)`.
    public func render(_ value: (String) -> String) -> String {
        var out = ""
        for part in self.parts {
            switch part {
            case .literal(let text): out += text
            case .placeholder(let name): out += value(name)
            }
        }
        return out
    }
}
