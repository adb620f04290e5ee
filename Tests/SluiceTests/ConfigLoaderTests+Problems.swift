import Foundation
import Testing

@testable import Sluice

extension ConfigLoaderTests {
    @Test("A dependency cycle among tasks is reported with the cycle")
    func cycle() {
        let problems = Self.problems(
            "{ pipelines: { p: { tasks: { a: { run: ['x'], needs: ['b'] }, b: { run: ['x'], needs: ['c'] }, c: { run: ['x'], needs: ['a'] } } } } }"
        )
        Self.expectProblem(problems, at: "pipelines.p.tasks", containing: "cycle")
        Self.expectProblem(problems, at: "pipelines.p.tasks", containing: "a → b → c → a")
    }

    @Test("A task that needs itself is reported")
    func selfNeed() {
        let problems = Self.problems("{ pipelines: { p: { tasks: { a: { run: ['x'], needs: ['a'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.p.tasks.a.needs[0]", containing: "cannot need itself")
    }

    @Test("An unknown dependency is reported with its index")
    func unknownNeeds() {
        let problems = Self.problems("{ pipelines: { p: { tasks: { a: { run: ['x'] }, b: { run: ['x'], needs: ['a', 'ghost'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.p.tasks.b.needs[1]", containing: "unknown task \"ghost\"")
        #expect(problems.count == 1)
    }

    @Test("A misspelt key or task name gets the nearest known one as a hint; a name far from all gets none")
    func didYouMean() {
        let problems = Self.problems(
            "{ pipelines: { p: { tasks: { extract: { run: ['x'], timeout_secnds: 5 }, load: { run: ['x'], needs: ['extrat'], zzzzzzzz: 1 } } } } }"
        )
        Self.expectProblem(problems, at: "pipelines.p.tasks.extract.timeout_secnds", containing: "did you mean `timeout_seconds`?")
        Self.expectProblem(
            problems, at: "pipelines.p.tasks.load.needs[0]", containing: "unknown task \"extrat\"; did you mean \"extract\"?")
        Self.expectProblem(problems, at: "pipelines.p.tasks.load.zzzzzzzz", containing: "unknown key")
        #expect(problems.first { $0.path == "pipelines.p.tasks.load.zzzzzzzz" }?.message == "unknown key")
    }

    @Test("A parameter used in run but not declared is reported")
    func undeclaredParameter() {
        let problems = Self.problems(
            "{ pipelines: { p: { params: { env: {} }, tasks: { t: { run: ['/bin/load', '--env={env}', '--date={date}'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.run[2]", containing: "{date}")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.run[2]", containing: "not declared")
        #expect(problems.count == 1)
    }

    @Test("A grant naming an unknown pipeline is reported")
    func grantUnknownPipeline() {
        let problems = Self.problems(Self.withRole("{ users: ['a'], grants: [{ pipelines: ['p', 'nope'], verbs: ['view'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].pipelines[1]", containing: "unknown pipeline \"nope\"")
        #expect(problems.count == 1)
    }

    @Test("A glob matching no pipeline is reported")
    func globMatchesNothing() {
        let problems = Self.problems(Self.withRole("{ grants: [{ pipelines: ['zz-*'], verbs: ['view'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].pipelines[0]", containing: "pattern \"zz-*\" matches no pipeline")
    }

    @Test("An unknown verb is reported and the known verbs are listed")
    func unknownVerb() {
        let problems = Self.problems(Self.withRole("{ grants: [{ pipelines: ['p'], verbs: ['view', 'deploy', 'VIEW'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "unknown verb \"deploy\"")
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "view, trigger, cancel, retry, logs, approve, audit, admin")
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[2]", containing: "unknown verb \"VIEW\"")
    }

    @Test("A grant without pipelines or verbs is reported")
    func emptyGrant() {
        let problems = Self.problems(Self.withRole("{ grants: [{}, { pipelines: [], verbs: [] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].pipelines", containing: "required")
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs", containing: "required")
        Self.expectProblem(problems, at: "roles.ops.grants[1].pipelines", containing: "required")
        Self.expectProblem(problems, at: "roles.ops.grants[1].verbs", containing: "required")
    }

    @Test(
        "An invalid pipeline name is reported",
        arguments: ["bad name", "-lead", ".hidden", "a/b", "..", "<script>", "é", String(repeating: "a", count: 101), ""])
    func invalidPipelineName(name: String) throws {
        let key = String(data: try JSONEncoder().encode(name), encoding: .utf8)!
        let problems = Self.problems("{ pipelines: { \(key): { tasks: { t: { run: ['/bin/true'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.\(name)", containing: "invalid pipeline name")
    }

    @Test("The longest valid pipeline name is accepted")
    func longestPipelineName() throws {
        let name = String(repeating: "a", count: 100)
        #expect(try Self.load("{ pipelines: { '\(name)': { tasks: { t: { run: ['/bin/true'] } } } } }").pipelineNames == [name])
    }

    @Test("An invalid task name is reported", arguments: ["-x", "a b", "a/b", "..", "ta:sk"])
    func invalidTaskName(name: String) throws {
        let key = String(data: try JSONEncoder().encode(name), encoding: .utf8)!
        let problems = Self.problems("{ pipelines: { p: { tasks: { \(key): { run: ['/bin/true'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.p.tasks.\(name)", containing: "invalid task name")
    }

    @Test("An invalid parameter name is reported", arguments: ["Date", "9lives", "a-b", "a b", "", String(repeating: "x", count: 65)])
    func invalidParameterName(name: String) throws {
        let key = String(data: try JSONEncoder().encode(name), encoding: .utf8)!
        let problems = Self.problems("{ pipelines: { p: { params: { \(key): {} }, tasks: { t: { run: ['/bin/true'] } } } } }")
        Self.expectProblem(problems, at: "pipelines.p.params.\(name)", containing: "invalid parameter name")
    }

    @Test("A task without run is reported")
    func missingRun() {
        Self.expectProblem(
            Self.problems("{ pipelines: { p: { tasks: { t: { needs: [] } } } } }"), at: "pipelines.p.tasks.t.run", containing: "required")
    }

    @Test("An empty run, or one whose program is empty, is reported", arguments: ["[]", "['']", "['', 'arg']"])
    func emptyRun(run: String) {
        Self.expectProblem(
            Self.problems("{ pipelines: { p: { tasks: { t: { run: \(run) } } } } }"), at: "pipelines.p.tasks.t.run",
            containing: "must name a program")
    }

    @Test(
        "A malformed template is reported at its element",
        arguments: [("['x', '{date']", 1, "unclosed"), ("['x}']", 0, "lone"), ("['x', 'y', '{Bad}']", 2, "invalid parameter name")])
    func badTemplate(run: String, index: Int, fragment: String) {
        Self.expectProblem(
            Self.problems("{ pipelines: { p: { tasks: { t: { run: \(run) } } } } }"), at: "pipelines.p.tasks.t.run[\(index)]",
            containing: fragment)
    }

    @Test("A NUL inside a run element or a default is refused")
    func nulInConfiguration() {
        // Foundation's JSON5 parser already refuses an escaped or raw NUL; either way the file must not load.
        #expect(!Self.problems(#"{ pipelines: { p: { tasks: { t: { run: ["/bin/echo", "a\u0000b"] } } } } }"#).isEmpty)
        #expect(!Self.problems("{ pipelines: { p: { tasks: { t: { run: ['/bin/echo', 'a\u{0}b'] } } } } }").isEmpty)
        #expect(
            !Self.problems(#"{ pipelines: { p: { params: { x: { default: "a\u0000" } }, tasks: { t: { run: ["/bin/true"] } } } } }"#)
                .isEmpty)
    }

    @Test("An oversized parameter default is reported")
    func oversizedDefault() throws {
        let long = String(repeating: "x", count: 4097)
        Self.expectProblem(
            Self.problems("{ pipelines: { p: { params: { x: { default: '\(long)' } }, tasks: { t: { run: ['/bin/true'] } } } } }"),
            at: "pipelines.p.params.x.default", containing: "longer than")
        let longest = String(repeating: "x", count: 4096)
        let config = try Self.load(
            "{ pipelines: { p: { params: { x: { default: '\(longest)' } }, tasks: { t: { run: ['/bin/true'] } } } } }")
        #expect(config.pipelines["p"]?.parameters.first?.defaultValue == longest)
    }

    @Test("A base path must start with / and must not end with /", arguments: ["/sluice/", "sluice", "/", "//", "/a/b/"])
    func badBasePath(basePath: String) {
        Self.expectProblem(
            Self.problems("{ server: { base_path: '\(basePath)' }, \(Self.minimal) }"), at: "server.base_path",
            containing: "must be empty or start with /")
    }

    @Test("A configuration without pipelines, or a pipeline without tasks, is reported")
    func missingParts() {
        Self.expectProblem(Self.problems("{}"), at: "pipelines", containing: "required")
        Self.expectProblem(Self.problems("{ pipelines: { p: {} } }"), at: "pipelines.p.tasks", containing: "required")
        Self.expectProblem(Self.problems("{ pipelines: { p: { tasks: {} } } }"), at: "pipelines.p.tasks", containing: "at least one task")
    }

    @Test(
        "An empty pipelines object is reported like a missing one")
    func emptyPipelines() {
        Self.expectProblem(Self.problems("{ pipelines: {} }"), at: "pipelines", containing: "at least one pipeline")
    }

    @Test("Several problems are reported at once")
    func severalProblems() {
        let problems = Self.problems(
            """
            {
              server: { base_path: "/x/", threads: 0, colour: "blue" },
              pipelines: {
                "bad name": { tasks: { t: { run: ["/bin/true"] } } },
                p: { tasks: { a: { run: ["x", "{date}"], needs: ["ghost"] }, b: {} } },
              },
              roles: { ops: { grants: [{ pipelines: ["nope"], verbs: ["fly"] }] } },
              extra: true,
            }
            """)
        for path in [
            "server.base_path", "server.threads", "server.colour", "pipelines.bad name", "pipelines.p.tasks.a.run[1]",
            "pipelines.p.tasks.a.needs[0]", "pipelines.p.tasks.b.run", "roles.ops.grants[0].pipelines[0]", "roles.ops.grants[0].verbs[0]",
            "extra",
        ] {
            #expect(problems.contains { $0.path == path }, "missing a problem at \(path); got \(problems)")
        }
        #expect(problems.count >= 10)
    }

    @Test("The error's description names the file and each problem's key path")
    func errorDescription() {
        do {
            _ = try Self.load("{ \(Self.minimal), extra: 1, more: 2 }")
            Issue.record("accepted")
        } catch {
            #expect(error.description == "sluice.json5:1: extra: unknown key\nsluice.json5:1: more: unknown key")
        }
    }

    @Test("A duplicated key is reported rather than one copy silently winning")
    func duplicateKeys() {
        let problems = Self.problems(
            """
            { \(Self.minimal),
              roles: { ops: { users: ["alice"], grants: [{ pipelines: ["p"], verbs: ["view"] }] },
                       ops: { users: ["mallory"], grants: [{ pipelines: ["p"], verbs: ["view", "trigger"] }] } } }
            """)
        #expect(problems.contains { $0.path.hasPrefix("roles") && $0.message.contains("duplicate") })
    }
}
