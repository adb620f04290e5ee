import Foundation
import Testing

@testable import Sluice

extension ConfigLoaderTests {
    @Test(
        "Malformed JSON5 gives one clear problem",
        arguments: ["{ pipelines: ", "", "   ", "{ a: 1 }}", "{ 'a': }", "{ a: 1, , }", "{ a: [1 2] }", "{ a: \"unterminated }", "/* never closed"])
    func malformed(text: String) {
        let problems = Self.problems(text)
        #expect(problems.count == 1)
        #expect(problems.first?.path == "")
        #expect(problems.first?.message.hasPrefix("not valid JSON5") == true)
    }

    @Test("Bytes that are not UTF-8 give one clear problem")
    func notUTF8() {
        do {
            _ = try ConfigLoader.load(data: Data([0x7b, 0xff, 0xfe, 0x7d]), file: "bin.json5", directory: "/")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.message.hasPrefix("not valid JSON5") == true)
        }
    }

    @Test("Deeply nested input is refused without crashing")
    func deepNesting() {
        let text = "{ x: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + " }"
        let problems = Self.problems(text)
        #expect(problems.count == 1)
        #expect(problems.first?.message.hasPrefix("not valid JSON5") == true)
    }

    @Test("A root that is not an object is reported")
    func rootNotObject() {
        for text in ["[]", "42", "'text'", "null"] {
            Self.expectProblem(Self.problems(text), at: "", containing: "must be an object")
        }
    }
}
