import JSON
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String, json5: Bool = false) throws(JSONError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8), json5: json5).value
    }

    private func failure(_ text: String, json5: Bool = false) -> JSONError? {
        do {
            _ = try self.parse(text, json5: json5)
            return nil
        } catch { return error }
    }

    @Test("Strict JSON parses every value type")
    func strictValues() throws {
        let value = try self.parse(#"{"s": "a\"b\\c\u00e9\ud83d\ude00", "n": -1.5e3, "t": true, "f": false, "z": null, "a": [1, 2]}"#)
        #expect(
            value
                == .object([
                    "s": .string("a\"b\\cé😀"), "n": .number(-1500), "t": .bool(true), "f": .bool(false), "z": .null,
                    "a": .array([.number(1), .number(2)]),
                ]))
    }

    @Test("Duplicate member names are refused, in JSON and JSON5, with the path and both lines")
    func duplicates() {
        let strict = self.failure(#"{"alg": "RS256", "alg": "none"}"#)
        #expect(strict?.message.contains("duplicate member \"alg\"") == true)
        #expect(strict?.path == "alg")
        let json5 = self.failure("{\n roles: {\n  ops: {},\n  ops: {},\n },\n}", json5: true)
        #expect(json5?.path == "roles.ops")
        #expect(json5?.line == 4)
        #expect(json5?.message.contains("first on line 3") == true)
    }

    @Test(
        "Strict mode refuses JSON5 extensions",
        arguments: [
            "[1,]", #"{"a": 1,}"#, "// c\n1", "/* c */ 1", "{a: 1}", "'x'", "0x10", "+1", ".5", "1.", "Infinity", "NaN", #""\x41""#,
        ])
    func strictRefusesJSON5(_ text: String) {
        #expect(self.failure(text) != nil, "accepted \(text)")
    }

    @Test("JSON5 accepts comments, unquoted keys, single quotes, trailing commas and hex")
    func json5Extensions() throws {
        let value = try self.parse(
            "// head\n{ a: 'x\\'y', b: [1, 2,], /* c */ c: 0x1F, d: .5, e: +2, f: 'line\\\ncontinued', }", json5: true)
        #expect(
            value
                == .object([
                    "a": .string("x'y"), "b": .array([.number(1), .number(2)]), "c": .number(31), "d": .number(0.5), "e": .number(2),
                    "f": .string("linecontinued"),
                ]))
    }

    @Test(
        "Malformed documents give an error with line and column",
        arguments: [
            "", "{", "[1 2]", #"{"a" 1}"#, #"{"a": }"#, "tru", "01", "1e", "-", #""unterminated"#, "\"tab\there\"", #""\q""#,
            #""\ud800""#, #""\udc00x""#, "[1] 2", "{1: 2}",
        ])
    func malformed(_ text: String) {
        let error = self.failure(text, json5: true)
        #expect(error != nil, "accepted \(text)")
        #expect((error?.line ?? 0) >= 1 && (error?.column ?? 0) >= 1)
    }

    @Test("Nesting deeper than the limit is refused instead of overflowing the stack")
    func depth() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try self.parse(ok)
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(self.failure(deep)?.message.contains("nested deeper") == true)
        #expect(self.failure(String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)) != nil)
    }

    @Test("Invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        var bytes = Array(#"{"a": "x"#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#""}"#.utf8)
        #expect(throws: JSONError.self) { try JSONParser.parse(bytes, json5: false) }
    }

    @Test("Key paths map to the lines where they start")
    func lines() throws {
        let doc = try JSONParser.parse(Array("{\n  a: {\n    b: [\n      1,\n      2\n    ]\n  }\n}".utf8), json5: true)
        #expect(doc.lines["a"] == 2)
        #expect(doc.lines["a.b"] == 3)
        #expect(doc.lines["a.b[1]"] == 5)
    }

    @Test("A byte order mark is skipped; text after the document is an error")
    func bomAndTrailing() throws {
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("1".utf8), json5: false).value == .number(1))
        #expect(self.failure("1 x") != nil)
    }

    @Test("Without lines (request bodies): the same values, no lines kept, duplicates still refused, canonically equivalent names too")
    func withoutLines() throws {
        let text = Array(#"{"params": {"a": "1", "b": ["x", {"c": true}]}, "n": 2}"#.utf8)
        let quick = try JSONParser.parse(text, json5: false, recordsLines: false)
        let full = try JSONParser.parse(text, json5: false)
        #expect(quick.value == full.value)
        #expect(quick.lines.isEmpty && full.lines["params.b[1].c"] == 1)
        #expect(try JSONValue.parse(text) == full.value)
        do {
            _ = try JSONValue.parse(Array("{\n \"p\": {\"a\": 1,\n \"a\": 2}}".utf8))
            Issue.record("a duplicate member was accepted")
        } catch {
            #expect(error.message == "duplicate member \"a\"" && error.line == 3, "\(error)")
        }
        // "é" precomposed and decomposed are two byte sequences but one Swift String: refused as a
        // duplicate rather than one value silently winning.
        #expect(throws: JSONError.self) { try JSONValue.parse(Array(#"{"\#u{E9}": "1", "e\#u{301}": "2"}"#.utf8)) }
    }
}
