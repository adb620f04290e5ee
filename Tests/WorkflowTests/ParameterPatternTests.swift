import Foundation
import Synchronization
import Testing
import Workflow

@Suite struct ParameterPatternTests {
    @Test("A pattern must match the whole value")
    func anchored() throws {
        let pattern = try ParameterPattern("[a-z]+-[0-9]{2}")
        #expect(pattern.matches("prod-01"))
        #expect(!pattern.matches("xprod-01!"))
        #expect(!pattern.matches("prod-1"))
        #expect(!pattern.matches(""))
        // Alternation binds inside the implied group: `a|b` must not become `^a|b$`.
        let either = try ParameterPattern("a|b")
        #expect(either.matches("a") && either.matches("b"))
        #expect(!either.matches("ab") && !either.matches("xb") && !either.matches("ax"))
    }

    @Test(
        "Patterns that are exponential for backtracking engines finish at once on a 4 KiB value",
        arguments: [
            "(a+)+", "(a|a)*b", "(a*)*b", "(a|aa)+c", "(.*a){20}", "((a{1,10}){1,10}){1,10}",
        ])
    func noCatastrophicBacktracking(source: String) throws {
        let pattern = try ParameterPattern(source)
        let hostile = String(repeating: "a", count: PipelineDefinition.maxParameterBytes - 1) + "!"
        let start = ContinuousClock.now
        #expect(!pattern.matches(hostile))
        // Generous bound for a shared CI machine: a backtracking engine takes longer than the age
        // of the universe here, glibc's automaton milliseconds.
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test(
        "Back-references, large counts, empty, oversized and malformed patterns are refused",
        arguments: [
            "(a)\\1", "x{101}", "x{1,1000}", "", String(repeating: "a", count: 257), "(unclosed", "[z-a]", "a\u{0}b",
        ])
    func refused(source: String) {
        #expect(throws: TemplateError.self) { try ParameterPattern(source) }
    }

    @Test("Brackets and escapes are not mistaken for counts or back-references")
    func bracketsAndEscapes() throws {
        #expect(try ParameterPattern("[{]1000[}]").matches("{1000}"))
        #expect(try ParameterPattern("[\\1]").matches("1"))
        #expect(try ParameterPattern("[]x]+").matches("]x]"))
        #expect(try ParameterPattern("a\\{2\\}").matches("a{2}"))
    }

    @Test("One pattern matched from 8 threads at once gives every thread the right answers")
    func sharedAcrossThreads() throws {
        // The configuration in force is shared by every request thread, so one compiled pattern
        // is matched concurrently; scripts/test --tsan runs this under ThreadSanitizer.
        let pattern = try ParameterPattern("(dev|staging|prod)-[0-9]{2}")
        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<500 {
                let good = "prod-\(10 + (i + thread) % 90)"
                let bad = "prod-\(i + thread)x"
                if !pattern.matches(good) || pattern.matches(bad) { wrong.add(1, ordering: .relaxed) }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }

    @Test("resolveParameters reports a value that misses the pattern against its field")
    func resolve() throws {
        let pipeline = PipelineDefinition(
            name: "p", parameters: [ParameterSpec(name: "env", pattern: try ParameterPattern("(dev|staging|prod)[0-9]?"))],
            tasks: [TaskDefinition(name: "t", run: [try ArgvTemplate("/bin/true")])])
        #expect(try pipeline.resolveParameters(["env": "prod2"]) == ["env": "prod2"])
        #expect(throws: ParameterErrors(fields: ["env": "must match the pattern (dev|staging|prod)[0-9]?"])) {
            try pipeline.resolveParameters(["env": "prod; rm -rf /"])
        }
    }
}
