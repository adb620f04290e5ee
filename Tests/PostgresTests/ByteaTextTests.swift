import Testing

@testable import Postgres

/// bytea's text formats on their own (the round trips through a server are in
/// `PostgresValueTests.bytea`): no server needed.
struct ByteaTextTests {
    private static func decode(_ text: String) -> [UInt8]? {
        ByteaText.decode(ArraySlice(Array(text.utf8)))
    }

    @Test("Hex: \\x and two digits per byte, either case; empty is no bytes")
    func hex() {
        #expect(Self.decode(#"\x"#) == [])
        #expect(Self.decode(#"\x00ff7F"#) == [0, 255, 127])
    }

    @Test("Escape: bytes as they are, \\\\ for a backslash, \\ooo in octal")
    func escape() {
        #expect(Self.decode("") == [])
        #expect(Self.decode(#"ab\\c\000\377"#) == [97, 98, 92, 99, 0, 255])
    }

    @Test("Malformed text is refused, not guessed at", arguments: [#"\x0"#, #"\xzz"#, #"\x0g"#, #"\9"#, #"\400"#, #"\01"#, #"\"#, #"a\"#])
    func malformed(_ text: String) {
        #expect(Self.decode(text) == nil)
    }

    @Test("A bytes parameter is written as \\x hex")
    func parameterText() {
        var buffer: [UInt8] = []
        PostgresValue.bytes([0, 0xab, 0xff]).appendText(to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"\x00abff"#)
    }

    @Test("Doubles are written in a form the server reads back exactly, special values in its own spelling")
    func doubleText() {
        func text(_ value: Double) -> String {
            var buffer: [UInt8] = []
            PostgresValue.double(value).appendText(to: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
        #expect(text(.nan) == "NaN")
        #expect(text(.infinity) == "Infinity")
        #expect(text(-.infinity) == "-Infinity")
        #expect(text(0.1) == "0.1")
        #expect(Double(text(.leastNonzeroMagnitude)) == .leastNonzeroMagnitude)
    }
}
