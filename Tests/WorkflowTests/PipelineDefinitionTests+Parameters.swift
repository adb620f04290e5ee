import Testing
import Workflow

extension PipelineDefinitionTests {
    static let parameterized = PipelineDefinition(
        name: "etl",
        parameters: [
            ParameterSpec(name: "date", isRequired: true),
            ParameterSpec(name: "env", defaultValue: "staging"),
            ParameterSpec(name: "mode", isRequired: true, defaultValue: "full"),
            ParameterSpec(name: "note"),
        ],
        tasks: [task("a", run: ["./a", "{date}", "{env}", "{mode}", "{note}"])])

    @Test("Defaults fill omitted parameters and supplied values win")
    func defaults() throws {
        #expect(
            try Self.parameterized.resolveParameters(["date": "2024-01-01"]) == ["date": "2024-01-01", "env": "staging", "mode": "full"])
        #expect(
            try Self.parameterized.resolveParameters(["date": "d", "env": "prod", "mode": "delta", "note": "hi"]) == [
                "date": "d", "env": "prod", "mode": "delta", "note": "hi",
            ])
    }

    @Test("A missing required parameter is an error on that field")
    func requiredMissing() {
        let error = #expect(throws: ParameterErrors.self) { try Self.parameterized.resolveParameters([:]) }
        #expect(error?.fields.keys.sorted() == ["date"])
        #expect(error?.fields["date"] == "required")
    }

    @Test("An undeclared parameter is an error on that field")
    func undeclared() {
        let error = #expect(throws: ParameterErrors.self) {
            try Self.parameterized.resolveParameters(["date": "d", "DATE": "x"])
        }
        #expect(error?.fields.keys.sorted() == ["DATE"])
        #expect(error?.fields["DATE"]?.contains("not a parameter") == true)
    }

    @Test("A value is limited to 4096 UTF-8 bytes, not characters")
    func valueSize() throws {
        #expect(PipelineDefinition.maxParameterBytes == 4096)
        let p = Self.parameterized
        #expect(try p.resolveParameters(["date": String(repeating: "x", count: 4096)])["date"]?.utf8.count == 4096)
        #expect(try p.resolveParameters(["date": String(repeating: "é", count: 2048)])["date"]?.utf8.count == 4096)
        let ascii = #expect(throws: ParameterErrors.self) { try p.resolveParameters(["date": String(repeating: "x", count: 4097)]) }
        #expect(ascii?.fields["date"]?.contains("4096") == true)
        // 1366 characters, but 4098 bytes.
        let euro = #expect(throws: ParameterErrors.self) { try p.resolveParameters(["date": String(repeating: "€", count: 1366)]) }
        #expect(euro?.fields.keys.sorted() == ["date"])
    }

    @Test("A value containing NUL is refused")
    func nul() {
        let error = #expect(throws: ParameterErrors.self) {
            try Self.parameterized.resolveParameters(["date": "2024\u{0}-01-01"])
        }
        #expect(error?.fields["date"]?.contains("NUL") == true)
        // A refused value of a parameter with a default does not silently fall back to the default.
        let env = #expect(throws: ParameterErrors.self) {
            try Self.parameterized.resolveParameters(["date": "d", "env": "\u{0}"])
        }
        #expect(env?.fields.keys.sorted() == ["env"])
    }

    @Test("Every offending field is reported at once")
    func severalErrors() {
        let error = #expect(throws: ParameterErrors.self) {
            try Self.parameterized.resolveParameters([
                "unknown": "1", "env": String(repeating: "x", count: 5000), "note": "a\u{0}b",
            ])
        }
        #expect(error?.fields.keys.sorted() == ["date", "env", "note", "unknown"])
    }

    @Test("Values are passed through unchanged, including empty strings and shell syntax")
    func valuesUnchanged() throws {
        let hostile = "'; rm -rf / #\n$(id) \"q\" 🚀"
        let values = try Self.parameterized.resolveParameters(["date": hostile, "note": ""])
        #expect(values["date"].map { Array($0.utf8) } == Array(hostile.utf8))
        #expect(values["note"] == "")
    }
}
