/// Writes JSON text straight into bytes: the fast path for the API's hot shapes (a job and its
/// tasks), where `JSONEncoder` with sorted keys cost more than everything else in a request.
///
/// The caller writes members in the order it wants them (the API keeps keys sorted, as its
/// `JSONEncoder` output did); the writer only inserts commas and escapes strings.
///
/// ```swift
/// var w = JSONWriter()
/// w.object { w in w.key("id"); w.int(7); w.key("name"); w.string("a\"b") }
/// // w.bytes == Array(#"{"id":7,"name":"a\"b"}"#.utf8)
/// ```
public struct JSONWriter: Sendable {
    /// The text written so far.
    public private(set) var bytes: [UInt8] = []
    private var first = true

    /// An empty writer.
    public init(capacity: Int = 256) { self.bytes.reserveCapacity(capacity) }

    private mutating func separate() {
        if !self.first { self.bytes.append(UInt8(ascii: ",")) }
        self.first = false
    }

    /// Writes an object; `body` writes its members.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        self.separate()
        self.bytes.append(UInt8(ascii: "{"))
        self.first = true
        body(&self)
        self.bytes.append(UInt8(ascii: "}"))
        self.first = false
    }

    /// Writes an array; `body` writes its elements.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        self.separate()
        self.bytes.append(UInt8(ascii: "["))
        self.first = true
        body(&self)
        self.bytes.append(UInt8(ascii: "]"))
        self.first = false
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        self.separate()
        self.appendString(name)
        self.bytes.append(UInt8(ascii: ":"))
        self.first = true
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        self.separate()
        self.appendString(value)
    }

    /// Writes an integer value.
    public mutating func int<T: BinaryInteger>(_ value: T) {
        self.separate()
        self.bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        self.separate()
        self.bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Writes already-valid JSON text as one value (e.g. a fragment cached elsewhere).
    public mutating func raw(_ json: [UInt8]) {
        self.separate()
        self.bytes.append(contentsOf: json)
    }

    private mutating func appendString(_ value: String) {
        self.bytes.append(UInt8(ascii: "\""))
        var value = value
        // Runs of bytes that need no escape are copied at once: byte by byte, the appends were
        // most of the cost of writing a job's JSON.
        value.withUTF8 { utf8 in
            var start = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                self.appendEscaped(byte)
                start = i + 1
            }
            self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        self.bytes.append(UInt8(ascii: "\""))
    }

    /// The escape of a quote, a backslash or a control character.
    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0a: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0d: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            self.bytes.append(contentsOf: Array("\\u00".utf8))
            self.bytes.append(hex[Int(byte >> 4)])
            self.bytes.append(hex[Int(byte & 0xf)])
        }
    }
}
