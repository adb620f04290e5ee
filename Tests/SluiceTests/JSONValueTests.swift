import Foundation
import JSON
import Testing

@testable import Sluice

@Suite struct JSONValueTests {
    private func parse(_ text: String, json5: Bool = false) throws -> JSONValue {
        try JSONValue.parse(Data(text.utf8), json5: json5)
    }

    @Test("Every JSON type is parsed into its case")
    func types() throws {
        let value = try self.parse(#"{"o": {"k": "v"}, "a": [1, "x", null], "s": "text", "n": -2.5, "t": true, "f": false, "z": null}"#)
        #expect(
            value
                == .object([
                    "o": .object(["k": .string("v")]), "a": .array([.number(1), .string("x"), .null]), "s": .string("text"),
                    "n": .number(-2.5), "t": .bool(true), "f": .bool(false), "z": .null,
                ]))
    }

    @Test("Numbers are never booleans and strings are never numbers")
    func noCoercion() throws {
        #expect(try self.parse(#"[0, 1, true, "1", "true", "null"]"#) == .array([.number(0), .number(1), .bool(true), .string("1"), .string("true"), .string("null")]))
    }

    @Test("Strict JSON refuses JSON5 syntax that JSON5 accepts")
    func json5Only() throws {
        let text = "{ // comment\n unquoted: 'single', trailing: [1, 2,], hex: 0x10, }"
        #expect(throws: (any Error).self) { try self.parse(text) }
        let value = try self.parse(text, json5: true)
        #expect(value == .object(["unquoted": .string("single"), "trailing": .array([.number(1), .number(2)]), "hex": .number(16)]))
    }

    @Test("Malformed text throws", arguments: ["", "{", "{\"a\" 1}", "nul", "\"unterminated", "{\"a\":1}}", "[01]"])
    func malformed(text: String) {
        #expect(throws: (any Error).self) { try self.parse(text) }
    }

    @Test("Deeply nested input throws instead of exhausting the stack")
    func deepNesting() {
        let text = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        #expect(throws: (any Error).self) { try self.parse(text) }
        #expect(throws: (any Error).self) { try self.parse(text, json5: true) }
    }

    @Test("Hostile strings survive parsing unchanged")
    func hostileStrings() throws {
        #expect(try self.parse(#""<script>\u0000\n\"\\\u001b""#) == .string("<script>\u{0}\n\"\\\u{1b}"))
    }

    @Test("A large document parses completely")
    func largeDocument() throws {
        let text = "[" + (0..<100_000).map(String.init).joined(separator: ",") + "]"
        guard case .array(let items) = try self.parse(text) else {
            Issue.record("not an array")
            return
        }
        #expect(items.count == 100_000)
        #expect(items.last == .number(99_999))
    }

    @Test("typeName describes each case for messages")
    func typeNames() {
        #expect(JSONValue.object([:]).typeName == "an object")
        #expect(JSONValue.array([]).typeName == "an array")
        #expect(JSONValue.string("").typeName == "a string")
        #expect(JSONValue.number(0).typeName == "a number")
        #expect(JSONValue.bool(false).typeName == "a boolean")
        #expect(JSONValue.null.typeName == "null")
    }
}
