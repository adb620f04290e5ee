import Testing
import Workflow

@Suite struct PipelineDefinitionTests {
    static func task(_ name: String, needs: [String] = [], run: [String] = ["/bin/true"]) -> TaskDefinition {
        TaskDefinition(name: name, run: run.map { try! ArgvTemplate($0) }, needs: needs)
    }

    static let diamond = PipelineDefinition(
        name: "p", parameters: [ParameterSpec(name: "date", isRequired: true)],
        tasks: [
            task("a", run: ["./a", "--date", "{date}"]), task("b", needs: ["a"]), task("c", needs: ["a"]),
            task("d", needs: ["b", "c"]),
        ])

    @Test("A well-formed diamond has no problems and no cycle")
    func diamondIsFine() {
        #expect(Self.diamond.problems().isEmpty)
        #expect(Self.diamond.cycle() == nil)
    }

    @Test("A need naming no task is reported at its key path")
    func unknownNeed() {
        let p = PipelineDefinition(name: "p", tasks: [Self.task("a"), Self.task("b", needs: ["a", "ghost"])])
        #expect(p.problems() == [DefinitionProblem(path: "pipelines.p.tasks.b.needs[1]", message: "unknown task \"ghost\"")])
        #expect(p.cycle() == nil)
    }

    @Test("Needs compare as bytes: a Kelvin-sign spelling of a task's name is an unknown task, not that task")
    func needsAsBytes() {
        let p = PipelineDefinition(name: "p", tasks: [Self.task("K"), Self.task("b", needs: ["\u{212A}"])])
        // (No hint: the Kelvin sign is three bytes away from "K".)
        let messages = p.problems().map(\.message)
        #expect(messages.count == 1 && messages[0].utf8.elementsEqual("unknown task \"\u{212A}\"".utf8), "\(messages)")
        let loop = PipelineDefinition(name: "p", tasks: [Self.task("K", needs: ["b"]), Self.task("b", needs: ["\u{212A}"])])
        #expect(loop.cycle() == nil, "the Kelvin sign names no task, so there is no cycle")
        let realLoop = PipelineDefinition(name: "p", tasks: [Self.task("K", needs: ["b"]), Self.task("b", needs: ["K"])])
        #expect(realLoop.cycle() == ["K", "b", "K"])
    }

    @Test("A task that needs itself is reported once, not also as a cycle")
    func selfNeed() {
        let p = PipelineDefinition(name: "p", tasks: [Self.task("a", needs: ["a"])])
        #expect(p.problems() == [DefinitionProblem(path: "pipelines.p.tasks.a.needs[0]", message: "a task cannot need itself")])
    }

    @Test("A parameter used in run but not declared is reported at that argv element")
    func undeclaredParameter() {
        let p = PipelineDefinition(
            name: "p", parameters: [ParameterSpec(name: "env")],
            tasks: [Self.task("a", run: ["./a", "--env={env}", "--date={date}"])])
        let problems = p.problems()
        #expect(problems.count == 1)
        #expect(problems.first?.path == "pipelines.p.tasks.a.run[2]")
        #expect(problems.first?.message.contains("{date}") == true)
        #expect(problems.first?.description.hasPrefix("pipelines.p.tasks.a.run[2]: ") == true)
    }

    @Test("A pipeline without tasks is reported")
    func emptyTasks() {
        let p = PipelineDefinition(name: "p", tasks: [])
        #expect(p.problems().map(\.path) == ["pipelines.p.tasks"])
        #expect(p.cycle() == nil)
    }

    @Test("A cycle is reported with the tasks that form it")
    func cycle() throws {
        let p = PipelineDefinition(
            name: "p", tasks: [Self.task("a", needs: ["b"]), Self.task("b", needs: ["c"]), Self.task("c", needs: ["a"]), Self.task("d")])
        let cycle = try #require(p.cycle())
        #expect(cycle == ["a", "b", "c", "a"])
        let problems = p.problems()
        #expect(problems.count == 1)
        #expect(problems.first?.path == "pipelines.p.tasks")
        #expect(problems.first?.message.contains("a → b → c → a") == true)
    }

    @Test("A cycle reached from an acyclic entry task lists only the tasks on the cycle")
    func cycleBehindEntry() throws {
        let p = PipelineDefinition(
            name: "p",
            tasks: [
                Self.task("entry", needs: ["x"]), Self.task("x", needs: ["y"]), Self.task("y", needs: ["z"]), Self.task("z", needs: ["x"]),
            ])
        let cycle = try #require(p.cycle())
        #expect(cycle.first == cycle.last)
        #expect(Set(cycle) == ["x", "y", "z"])
        #expect(cycle.count == 4)
        // Each element needs the next one.
        let needs = Dictionary(uniqueKeysWithValues: p.tasks.map { ($0.name, $0.needs) })
        for (from, to) in zip(cycle, cycle.dropFirst()) { #expect(needs[from]?.contains(to) == true) }
    }

    @Test("Several problems are reported together")
    func severalProblems() {
        let p = PipelineDefinition(
            name: "p",
            tasks: [Self.task("a", needs: ["a", "nope"], run: ["{x}"]), Self.task("b", needs: ["c"]), Self.task("c", needs: ["b"])])
        let paths = p.problems().map(\.path)
        #expect(paths.contains("pipelines.p.tasks.a.needs[0]"))
        #expect(paths.contains("pipelines.p.tasks.a.needs[1]"))
        #expect(paths.contains("pipelines.p.tasks.a.run[0]"))
        #expect(paths.contains("pipelines.p.tasks"))
        #expect(paths.count == 4)
    }

    @Test("A chain of 10,000 tasks has no problems and does not overflow the stack")
    func longChain() {
        let tasks = (0..<10_000).map { i in Self.task("t\(i)", needs: i == 0 ? [] : ["t\(i - 1)"]) }
        // Listed from the end of the chain, so the search has to go all the way down at once.
        let p = PipelineDefinition(name: "long", tasks: tasks.reversed())
        #expect(p.problems().isEmpty)
        #expect(p.cycle() == nil)
    }

    @Test("A cycle closing a chain of 10,000 tasks is found without overflowing the stack")
    func longCycle() throws {
        var tasks = (0..<10_000).map { i in Self.task("t\(i)", needs: i == 0 ? [] : ["t\(i - 1)"]) }
        tasks[0].needs = ["t9999"]
        let p = PipelineDefinition(name: "long", tasks: tasks)
        let cycle = try #require(p.cycle())
        #expect(cycle.count == 10_001)
        #expect(cycle.first == cycle.last)
    }

    @Test("resolvedTasks keeps every value in its own argv element")
    func resolvedTasks() throws {
        let values = try Self.diamond.resolveParameters(["date": "2024-01-01 ; rm -rf / 'x'"])
        let resolved = Self.diamond.resolvedTasks(values)
        #expect(resolved.map(\.name) == ["a", "b", "c", "d"])
        #expect(resolved[0].argv == ["./a", "--date", "2024-01-01 ; rm -rf / 'x'"])
        #expect(resolved[1].argv == ["/bin/true"])
    }
}
