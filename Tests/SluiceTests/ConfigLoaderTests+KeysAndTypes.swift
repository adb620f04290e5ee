import Foundation
import Testing

@testable import Sluice

extension ConfigLoaderTests {
    @Test("An unknown top-level key is reported with its name")
    func unknownTopLevelKey() {
        let problems = Self.problems("{ \(Self.minimal), extra: 1, Roles: {} }")
        Self.expectProblem(problems, at: "extra", containing: "unknown key")
        Self.expectProblem(problems, at: "Roles", containing: "unknown key")
        #expect(problems.count == 2)
    }

    @Test(
        "An unknown key anywhere is reported with its key path",
        arguments: [
            ("{ server: { colour: 1 }, \(ConfigLoaderTests.minimal) }", "server.colour"),
            ("{ identity: { colour: {} }, \(ConfigLoaderTests.minimal) }", "identity.colour"),
            ("{ identity: { remote_user: { realm: 'x' } }, \(ConfigLoaderTests.minimal) }", "identity.remote_user.realm"),
            (ConfigLoaderTests.withRole("{ users: ['a'], colour: 1, grants: [] }"), "roles.ops.colour"),
            (ConfigLoaderTests.withRole("{ grants: [{ pipelines: ['p'], verbs: ['view'], colour: 1 }] }"), "roles.ops.grants[0].colour"),
            ("{ pipelines: { p: { colour: 1, tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.colour"),
            ("{ pipelines: { p: { tasks: { t: { run: ['/bin/true'], colour: 1 } } } } }", "pipelines.p.tasks.t.colour"),
            ("{ pipelines: { p: { params: { x: { colour: 1 } }, tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.params.x.colour"),
        ])
    func unknownKeys(text: String, path: String) {
        let problems = Self.problems(text)
        Self.expectProblem(problems, at: path, containing: "unknown key")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test(
        "A value of the wrong type is reported with its key path and what was found",
        arguments: [
            ("{ server: 'x', \(ConfigLoaderTests.minimal) }", "server", "must be an object, found a string"),
            ("{ server: { threads: '8' }, \(ConfigLoaderTests.minimal) }", "server.threads", "must be a number, found a string"),
            ("{ server: { threads: 0 }, \(ConfigLoaderTests.minimal) }", "server.threads", "from 1 to 256"),
            ("{ server: { threads: 257 }, \(ConfigLoaderTests.minimal) }", "server.threads", "from 1 to 256"),
            ("{ server: { threads: 1.5 }, \(ConfigLoaderTests.minimal) }", "server.threads", "whole number"),
            ("{ server: { threads: 1e300 }, \(ConfigLoaderTests.minimal) }", "server.threads", "whole number"),
            ("{ server: { threads: NaN }, \(ConfigLoaderTests.minimal) }", "server.threads", "whole number"),
            ("{ server: { threads: Infinity }, \(ConfigLoaderTests.minimal) }", "server.threads", "whole number"),
            ("{ server: { parallelism: -1 }, \(ConfigLoaderTests.minimal) }", "server.parallelism", "from 1 to 1024"),
            ("{ server: { max_body_bytes: true }, \(ConfigLoaderTests.minimal) }", "server.max_body_bytes", "found a boolean"),
            ("{ server: { grace_period_seconds: 3601 }, \(ConfigLoaderTests.minimal) }", "server.grace_period_seconds", "from 0 to 3600"),
            ("{ server: { base_path: 5 }, \(ConfigLoaderTests.minimal) }", "server.base_path", "must be a string, found a number"),
            ("{ server: { data_dir: [] }, \(ConfigLoaderTests.minimal) }", "server.data_dir", "must be a string, found an array"),
            ("{ identity: [], \(ConfigLoaderTests.minimal) }", "identity", "must be an object, found an array"),
            ("{ identity: { remote_user: true }, \(ConfigLoaderTests.minimal) }", "identity.remote_user", "must be an object, found a boolean"),
            ("{ pipelines: [] }", "pipelines", "must be an object, found an array"),
            ("{ pipelines: { p: { description: 5, tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.description", "must be a string"),
            ("{ pipelines: { p: { params: [], tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.params", "must be an object"),
            ("{ pipelines: { p: { params: { x: { required: 'yes' } }, tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.params.x.required", "must be true or false, found a string"),
            ("{ pipelines: { p: { params: { x: { default: 1 } }, tasks: { t: { run: ['/bin/true'] } } } } }", "pipelines.p.params.x.default", "must be a string, found a number"),
            ("{ pipelines: { p: { tasks: [] } } }", "pipelines.p.tasks", "must be an object, found an array"),
            ("{ pipelines: { p: { tasks: { t: 'run me' } } } }", "pipelines.p.tasks.t", "must be an object, found a string"),
            ("{ pipelines: { p: { tasks: { t: { run: '/bin/true' } } } } }", "pipelines.p.tasks.t.run", "must be an array of strings, found a string"),
            ("{ pipelines: { p: { tasks: { t: { run: ['/bin/echo', 1] } } } } }", "pipelines.p.tasks.t.run[1]", "must be a string, found a number"),
            ("{ pipelines: { p: { tasks: { t: { run: ['/bin/true'], needs: 'u' } } } } }", "pipelines.p.tasks.t.needs", "must be an array of strings"),
            ("{ \(ConfigLoaderTests.minimal), roles: [] }", "roles", "must be an object, found an array"),
            (ConfigLoaderTests.withRole("'admin'"), "roles.ops", "must be an object, found a string"),
            (ConfigLoaderTests.withRole("{ users: 'alice' }"), "roles.ops.users", "must be an array of strings, found a string"),
            (ConfigLoaderTests.withRole("{ groups: [true] }"), "roles.ops.groups[0]", "must be a string, found a boolean"),
            (ConfigLoaderTests.withRole("{ grants: {} }"), "roles.ops.grants", "must be an array, found an object"),
            (ConfigLoaderTests.withRole("{ grants: ['p'] }"), "roles.ops.grants[0]", "must be an object, found a string"),
            (ConfigLoaderTests.withRole("{ grants: [{ pipelines: 'p', verbs: ['view'] }] }"), "roles.ops.grants[0].pipelines", "must be an array of strings"),
            (ConfigLoaderTests.withRole("{ grants: [{ pipelines: ['p'], verbs: [null] }] }"), "roles.ops.grants[0].verbs[0]", "must be a string, found null"),
        ])
    func wrongTypes(text: String, path: String, fragment: String) {
        Self.expectProblem(Self.problems(text), at: path, containing: fragment)
    }
}
