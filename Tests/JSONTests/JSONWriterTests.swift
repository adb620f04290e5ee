import Foundation
import JSON
import Testing

/// `JSONWriter`'s strings: escaped exactly where JSON requires it, read back byte for byte by an
/// independent parser (Foundation's `JSONSerialization`).
@Suite("JSON writer")
struct JSONWriterTests {
    /// `value` written as the only member of an object, as text.
    static func written(_ value: String, key: String = "k") -> String {
        var writer = JSONWriter()
        writer.object { w in
            w.key(key)
            w.string(value)
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("Quotes, backslashes and control characters are escaped; everything else is copied as it is")
    func escapes() {
        #expect(Self.written("") == #"{"k":""}"#)
        #expect(Self.written("plain text / é 🚀") == #"{"k":"plain text / é 🚀"}"#)
        #expect(Self.written("a\"b\\c") == #"{"k":"a\"b\\c"}"#)
        #expect(Self.written("\n\r\t\u{0}\u{1f}\u{7f}") == #"{"k":"\n\r\t\u0000\u001f\#u{7f}"}"#)
        #expect(Self.written("\"") == #"{"k":"\""}"#)
        #expect(Self.written("x", key: "q\"\n") == #"{"q\"\n":"x"}"#)
        // U+2028 is valid unescaped in JSON; it is copied.
        #expect(Self.written("\u{2028}") == "{\"k\":\"\u{2028}\"}")
    }

    @Test("1,000 random strings of hostile characters read back byte for byte through JSONSerialization")
    func roundTrip() throws {
        let alphabet: [Character] = [
            "a", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1f}", " ", "/", "é", "e\u{301}", "🚀", "\u{2028}",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1_000 {
            let value = String((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let text = Self.written(value)
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
            let read = try #require(parsed?["k"], "\(text)")
            #expect(Array(read.utf8) == Array(value.utf8), "\(text)")
        }
    }
}
