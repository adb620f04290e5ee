import Foundation
import Policy
import Testing

@testable import Sluice

/// `server.tasks_on_stop` and grants of the `admin` verb, which is about the Sluice instance.
extension ConfigLoaderTests {
    @Test("tasks_on_stop is keep by default; keep and stop are read; stop stops tasks")
    func tasksOnStop() throws {
        #expect(try Self.load("{ \(Self.minimal) }").server.tasksOnStop == .keep)
        #expect(try Self.load("{ server: { tasks_on_stop: 'keep' }, \(Self.minimal) }").server.tasksOnStop == .keep)
        let stop = try Self.load("{ server: { tasks_on_stop: \"stop\" }, \(Self.minimal) }").server.tasksOnStop
        #expect(stop == .stop)
        #expect(stop.stopsTasks)
        #expect(!TasksOnStop.keep.stopsTasks)
    }

    @Test(
        "An unknown or mistyped tasks_on_stop is a problem naming the key and the known values",
        arguments: ["Stop", "KEEP", "kill", "", " keep", "ke\u{0065}\u{0301}p", "stop\u{0}"])
    func tasksOnStopUnknown(value: String) {
        let problems = Self.problems("{ server: { tasks_on_stop: \(Self.key(value)) }, \(Self.minimal) }")
        Self.expectProblem(problems, at: "server.tasks_on_stop", containing: "unknown value")
        Self.expectProblem(problems, at: "server.tasks_on_stop", containing: "keep")
        Self.expectProblem(problems, at: "server.tasks_on_stop", containing: "stop")
    }

    @Test("A tasks_on_stop that is not a string is a problem", arguments: ["true", "1", "['stop']", "{}"])
    func tasksOnStopType(value: String) {
        let problems = Self.problems("{ server: { tasks_on_stop: \(value) }, \(Self.minimal) }")
        Self.expectProblem(problems, at: "server.tasks_on_stop", containing: "must be a string")
    }

    @Test("The problem names the file and line of tasks_on_stop")
    func tasksOnStopLocated() {
        let text = "{\n  server: {\n    tasks_on_stop: 'pause',\n  },\n  \(Self.minimal)\n}"
        let problems = Self.problems(text)
        #expect(problems.first { $0.path == "server.tasks_on_stop" }?.line == 3)
    }

    @Test("admin in a grant on pipelines [\"*\"] is accepted and allows admin on the instance only")
    func adminOnStar() throws {
        let config = try Self.load(Self.withRole("{ users: ['ann'], grants: [{ pipelines: ['*'], verbs: ['view', 'admin'] }] }"))
        let ann = Subject(user: "ann")
        #expect(config.policy.decideOnInstance(ann, .admin) == .allow(role: "ops", grantIndex: 0))
        #expect(config.policy.verbs(of: ann, on: "p") == [.view])
        // A grant listing a pipeline beside * covers the instance too.
        let both = try Self.load(Self.withRole("{ users: ['ann'], grants: [{ pipelines: ['p', '*'], verbs: ['admin'] }] }"))
        #expect(both.policy.decideOnInstance(ann, .admin).isAllowed)
    }

    @Test("Nobody holds admin unless a grant names it")
    func adminNotByDefault() throws {
        let config = try Self.load(Self.valid)
        #expect(!config.policy.decideOnInstance(Subject(user: "alice"), .admin).isAllowed)
        let everything = try Self.load(
            Self.withRole(
                "{ users: ['ann'], grants: [{ pipelines: ['*'], verbs: ['view', 'trigger', 'cancel', 'retry', 'logs', 'audit'] }] }"))
        #expect(!everything.policy.decideOnInstance(Subject(user: "ann"), .admin).isAllowed)
    }

    @Test("admin in a grant on some pipelines is a problem at the verb", arguments: ["'p'", "'p*'", "'?'", "'**'", "'p', '*x'"])
    func adminOnPipelines(pipelines: String) {
        let problems = Self.problems(Self.withRole("{ grants: [{ pipelines: [\(pipelines)], verbs: ['view', 'admin'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "admin is about the Sluice instance")
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "pipelines: [\"*\"]")
    }

    @Test("admin next to parameter limits is a problem")
    func adminWithParams() {
        let config =
            "{ pipelines: { p: { params: { env: {} }, tasks: { t: { run: ['/bin/true'] } } } }, "
            + "roles: { ops: { grants: [{ pipelines: ['*'], verbs: ['admin', 'trigger'], params: { env: ['staging'] } }] } } }"
        let problems = Self.problems(config)
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[0]", containing: "cannot be limited by parameter values")
    }
}
