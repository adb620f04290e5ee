import Foundation
import Policy
import Testing
import Workflow

@testable import Sluice

@Suite struct ConfigLoaderTests {
    /// A valid configuration using JSON5: comments, trailing commas, unquoted and single-quoted keys.
    static let valid = """
        // Sluice configuration under test
        {
          /* no server block: every default applies */
          pipelines: {
            'etl-nightly': {
              description: "Load yesterday's orders",
              params: {
                date: { required: true, description: 'the day', },
                env: { default: "staging", },
              },
              tasks: {
                load: { run: ["./bin/load", "--env={env}"], needs: ["transform"], },
                transform: { run: ["./bin/transform", "{date}"], needs: ["extract"] },
                extract: { run: ["./bin/extract", "--date", "{date}",], },
              },
            },
            reports: { tasks: { build: { run: ["/usr/bin/make", "reports"] } } },
          },
          roles: {
            operator: {
              users: ["alice"], groups: ["data-eng",],
              grants: [{ pipelines: ["etl-*"], verbs: ["view", "trigger", "cancel", "logs"], },],
            },
          },
        }
        """

    /// A minimal pipeline block to embed in configurations that test something else.
    static let minimal = #"pipelines: { p: { tasks: { t: { run: ["/bin/true"] } } } }"#

    /// A pipeline `p` with one task `t`, plus a role block, for tests about roles.
    static func withRole(_ role: String) -> String {
        "{ \(Self.minimal), roles: { ops: \(role) } }"
    }

    static func load(_ text: String, directory: String = "/srv/sluice") throws(ConfigError) -> Configuration {
        try ConfigLoader.load(data: Data(text.utf8), file: "sluice.json5", directory: directory)
    }

    /// The problems reported for `text`; records an issue if it was accepted.
    static func problems(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [ConfigProblem] {
        do {
            _ = try self.load(text)
            Issue.record("the configuration was accepted", sourceLocation: sourceLocation)
            return []
        } catch {
            #expect(error.file == "sluice.json5", sourceLocation: sourceLocation)
            return error.problems
        }
    }

    /// Expects a problem at `path` whose message contains `fragment`.
    static func expectProblem(
        _ problems: [ConfigProblem], at path: String, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let atPath = problems.filter { $0.path == path }
        #expect(
            atPath.contains { $0.message.contains(fragment) },
            "no problem at \(path) containing \"\(fragment)\"; got \(problems)", sourceLocation: sourceLocation)
    }

    @Test("A valid JSON5 configuration loads with the documented defaults")
    func validWithDefaults() throws {
        let config = try Self.load(Self.valid)
        #expect(config.server.basePath == nil)
        #expect(config.server.dataDirectory == "/srv/sluice/data")
        #expect(config.server.threads == 8)
        #expect(config.server.parallelism == 4)
        #expect(config.server.maxBodyBytes == 1 << 20)
        #expect(config.server.gracePeriod == 5)
        #expect(config.identity.remoteUser)
        #expect(config.directory == "/srv/sluice")
        #expect(config.pipelineNames == ["etl-nightly", "reports"])
        #expect(config.hash.count == 64)
        #expect(config.hash.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("Pipelines keep their description, parameters and tasks in dependency order")
    func pipelineContents() throws {
        let config = try Self.load(Self.valid)
        let etl = try #require(config.pipelines["etl-nightly"])
        #expect(etl.name == "etl-nightly")
        #expect(etl.description == "Load yesterday's orders")
        #expect(etl.tasks.map(\.name) == ["extract", "transform", "load"])
        #expect(etl.tasks.map { $0.run.map(\.text) } == [["./bin/extract", "--date", "{date}"], ["./bin/transform", "{date}"], ["./bin/load", "--env={env}"]])
        #expect(etl.tasks[2].needs == ["transform"])
        let date = try #require(etl.parameters.first { $0.name == "date" })
        #expect(date.isRequired)
        #expect(date.defaultValue == nil)
        #expect(date.description == "the day")
        let env = try #require(etl.parameters.first { $0.name == "env" })
        #expect(!env.isRequired)
        #expect(env.defaultValue == "staging")
        #expect(config.pipelines["reports"]?.description == "")
    }

    @Test("Roles become a policy that decides as configured")
    func roles() throws {
        let config = try Self.load(Self.valid)
        #expect(config.policy.roles.map(\.name) == ["operator"])
        #expect(config.policy.decide(Subject(user: "alice"), .trigger, pipeline: "etl-nightly").isAllowed)
        #expect(config.policy.decide(Subject(user: "x", groups: ["data-eng"]), .logs, pipeline: "etl-nightly").isAllowed)
        #expect(!config.policy.decide(Subject(user: "alice"), .view, pipeline: "reports").isAllowed)
        #expect(!config.policy.decide(Subject(user: "bob"), .view, pipeline: "etl-nightly").isAllowed)
    }

    @Test("Server settings are read when given")
    func serverSettings() throws {
        let config = try Self.load(
            """
            { server: { base_path: "/sluice", data_dir: "/var/lib/sluice", threads: 2, parallelism: 3,
                        max_body_bytes: 1000, grace_period_seconds: 0 },
              \(Self.minimal) }
            """)
        #expect(config.server.basePath == "/sluice")
        #expect(config.server.dataDirectory == "/var/lib/sluice")
        #expect(config.server.threads == 2)
        #expect(config.server.parallelism == 3)
        #expect(config.server.maxBodyBytes == 1000)
        #expect(config.server.gracePeriod == 0)
    }

    @Test("A relative data directory is resolved against the configuration's directory")
    func relativeDataDirectory() throws {
        let config = try Self.load(#"{ server: { data_dir: "state/../db" }, \#(Self.minimal) }"#, directory: "/etc/sluice")
        #expect(config.server.dataDirectory == "/etc/sluice/db")
    }

    @Test("An empty base path means the root mount")
    func emptyBasePath() throws {
        #expect(try Self.load(#"{ server: { base_path: "" }, \#(Self.minimal) }"#).server.basePath == "")
    }

    @Test("An identity block without remote_user turns REMOTE_USER off; with it, on")
    func identity() throws {
        #expect(try !Self.load("{ identity: {}, \(Self.minimal) }").identity.remoteUser)
        #expect(try Self.load("{ identity: { remote_user: {} }, \(Self.minimal) }").identity.remoteUser)
    }

    @Test("Null members count as absent")
    func nullMembers() throws {
        let config = try Self.load(
            #"{ server: { threads: null, base_path: null }, pipelines: { p: { description: null, tasks: { t: { run: ["/bin/true"], needs: null } } } } }"#)
        #expect(config.server.threads == 8)
        #expect(config.server.basePath == nil)
        #expect(config.pipelines["p"]?.description == "")
    }

    @Test("Plain JSON is valid JSON5")
    func plainJSON() throws {
        let config = try Self.load(#"{"pipelines": {"p": {"tasks": {"t": {"run": ["/bin/true"]}}}}}"#)
        #expect(config.pipelineNames == ["p"])
    }

    @Test("topologicalOrder puts needs first, breaks ties by name and leaves cycles at the end")
    func topologicalOrder() {
        func task(_ name: String, _ needs: [String] = []) -> TaskDefinition { TaskDefinition(name: name, run: [], needs: needs) }
        let ordered = ConfigLoader.topologicalOrder([task("d", ["c", "b"]), task("c", ["a"]), task("b", ["a"]), task("a")])
        #expect(ordered.map(\.name) == ["a", "b", "c", "d"])
        let diamond = ConfigLoader.topologicalOrder([task("z"), task("load", ["z", "m"]), task("m", ["z"]), task("b")])
        #expect(diamond.map(\.name) == ["b", "z", "m", "load"])
        // Unknown needs do not block a task; cycle members come last in name order.
        let cyclic = ConfigLoader.topologicalOrder([task("y", ["x"]), task("x", ["y"]), task("solo", ["ghost"])])
        #expect(cyclic.map(\.name) == ["solo", "x", "y"])
        #expect(ConfigLoader.topologicalOrder([]).isEmpty)
    }

    @Test("topologicalOrder handles a long chain without losing tasks")
    func longChain() {
        let tasks = (0..<2000).reversed().map { TaskDefinition(name: String(format: "t%04d", $0), run: [], needs: $0 == 0 ? [] : [String(format: "t%04d", $0 - 1)]) }
        let ordered = ConfigLoader.topologicalOrder(tasks)
        #expect(ordered.map(\.name) == (0..<2000).map { String(format: "t%04d", $0) })
    }
}
