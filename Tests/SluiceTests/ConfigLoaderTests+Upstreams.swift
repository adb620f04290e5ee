import Foundation
import Policy
import Testing

@testable import Sluice

/// `upstreams` (guarded upstreams Sluice authorises for lighttpd) and grants' `upstreams`.
@Suite struct ConfigLoaderUpstreamTests {
    /// Luigi's rules: pages and reads are view, forgive_failures is operate.
    static let luigiRules = """
        rules: [
              { methods: ["GET", "HEAD"], paths: ["/", "/static/**", "/api/task_list"], verb: "view" },
              { methods: ["GET", "POST"], paths: ["/api/forgive_failures"], verb: "operate" },
            ]
        """

    /// A configuration with the upstream `luigi` (its body given), a pipeline `p` with a
    /// parameter `env`, and a role `ops` (given).
    static func config(luigi: String = "{ \(ConfigLoaderUpstreamTests.luigiRules) }", role: String) -> String {
        """
        {
          upstreams: { luigi: \(luigi) },
          pipelines: { p: { params: { env: {} }, tasks: { t: { run: ["/bin/true"] } } } },
          roles: { ops: \(role) },
        }
        """
    }

    /// A valid role for configurations that test the upstream itself.
    static let viewRole = "{ users: ['ann'], grants: [{ upstreams: ['luigi'], verbs: ['view'] }] }"

    static func load(_ text: String) throws(ConfigError) -> Configuration { try ConfigLoaderTests.load(text) }

    static func problems(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [ConfigProblem] {
        ConfigLoaderTests.problems(text, sourceLocation: sourceLocation)
    }

    static func expectProblem(
        _ problems: [ConfigProblem], at path: String, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        ConfigLoaderTests.expectProblem(problems, at: path, containing: fragment, sourceLocation: sourceLocation)
    }

    @Test("An upstream with a mount path, a rate limit and rules loads, and a role granting it decides on it")
    func valid() throws {
        let config = try Self.load(
            Self.config(
                luigi: "{ mount_path: '/luigi', rate_limit: { per_minute: 60, burst: 10 }, \(Self.luigiRules) }",
                role: """
                    { users: ['ann'], grants: [
                        { pipelines: ['p'], verbs: ['view'] },
                        { upstreams: ['luigi'], verbs: ['view', 'operate'] },
                      ] }
                    """))
        #expect(config.upstreams.map(\.upstream.name) == ["luigi"])
        let luigi = try #require(config.upstream(named: "luigi"))
        #expect(luigi.upstream.mountPath == "/luigi")
        #expect(luigi.limit == RateLimiter.Limit(perMinute: 60, burst: 10))
        let rules = luigi.upstream.rules
        #expect(rules.count == 2)
        #expect(rules.map(\.methods) == [["GET", "HEAD"], ["GET", "POST"]])
        #expect(rules.map { $0.paths.map(\.text) } == [["/", "/static/**", "/api/task_list"], ["/api/forgive_failures"]])
        #expect(rules.map(\.verb) == [.view, .operate])
        #expect(
            luigi.upstream.match(method: "POST", target: "/luigi/api/forgive_failures")
                == .rule(index: 1, verb: .operate, path: UpstreamPath(segments: ["api", "forgive_failures"])))
        // Looked up by bytes.
        #expect(config.upstream(named: "Luigi") == nil)
        #expect(config.upstream(named: "luigi ") == nil)

        let ann = Subject(user: "ann")
        #expect(config.policy.decideOnUpstream(ann, .operate, upstream: "luigi") == .allow(role: "ops", grantIndex: 1))
        #expect(config.policy.decideOnUpstream(ann, .view, upstream: "luigi") == .allow(role: "ops", grantIndex: 1))
        #expect(config.policy.verbs(of: ann, on: "p") == [.view])
        let grant = config.policy.roles[0].grants[1]
        #expect(grant.upstreams == [GlobPattern("luigi")] && grant.pipelines.isEmpty)
        #expect(config.policy.roles[0].grants[0].upstreams.isEmpty)
    }

    @Test("Without mount_path or rate_limit: served at the root, with the default limit; burst defaults to per_minute")
    func defaults() throws {
        let bare = try #require(try Self.load(Self.config(role: Self.viewRole)).upstream(named: "luigi"))
        #expect(bare.upstream.mountPath == nil)
        #expect(bare.limit == UpstreamSettings.defaultLimit)
        #expect(UpstreamSettings.defaultLimit == RateLimiter.Limit(perMinute: 1200, burst: 300))
        let empty = try #require(
            try Self.load(Self.config(luigi: "{ mount_path: '', \(Self.luigiRules) }", role: Self.viewRole)).upstream(named: "luigi"))
        #expect(empty.upstream.mountPath == nil, "an empty mount path is the root")
        let perMinute = try #require(
            try Self.load(Self.config(luigi: "{ rate_limit: { per_minute: 30 }, \(Self.luigiRules) }", role: Self.viewRole)).upstream(
                named: "luigi"))
        #expect(perMinute.limit == RateLimiter.Limit(perMinute: 30, burst: 30))
    }

    @Test("Several upstreams load in name order; a glob in a grant's upstreams matches them")
    func several() throws {
        let config = try Self.load(
            """
            {
              upstreams: {
                zeta: { rules: [{ paths: ['/**'], verb: 'view' }] },
                alpha: { rules: [{ paths: ['/**'], verb: 'operate' }] },
              },
              roles: { ops: { users: ['ann'], grants: [{ upstreams: ['*'], verbs: ['view'] }] } },
            }
            """)
        #expect(config.upstreams.map(\.upstream.name) == ["alpha", "zeta"])
        #expect(config.upstream(named: "zeta")?.upstream.rules.first?.methods == [], "no methods: every method")
        #expect(config.policy.decideOnUpstream(Subject(user: "ann"), .view, upstream: "zeta").isAllowed)
    }

    @Test("A configuration with upstreams and no pipelines loads")
    func onlyUpstreams() throws {
        let config = try Self.load(
            """
            {
              upstreams: { luigi: { \(Self.luigiRules) } },
              roles: { ops: { users: ['ann'], grants: [{ upstreams: ['luigi'], verbs: ['view', 'operate'] }] } },
            }
            """)
        #expect(config.pipelines.isEmpty)
        #expect(config.upstreams.count == 1)
        #expect(config.policy.decideOnUpstream(Subject(user: "ann"), .operate, upstream: "luigi").isAllowed)
        // Without roles too.
        #expect(try Self.load("{ upstreams: { luigi: { \(Self.luigiRules) } } }").upstreams.count == 1)
    }

    @Test("Neither pipelines nor upstreams is still a problem at pipelines")
    func neither() {
        Self.expectProblem(Self.problems("{ roles: {} }"), at: "pipelines", containing: "required")
        Self.expectProblem(Self.problems("{ upstreams: {} }"), at: "pipelines", containing: "required")
    }

    @Test("An unknown upstream in a grant is a problem at the pattern")
    func unknownUpstream() {
        let problems = Self.problems(Self.config(role: "{ grants: [{ upstreams: ['luigi', 'luigy'], verbs: ['view'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].upstreams[1]", containing: "unknown upstream \"luigy\"")
        #expect(!problems.contains { $0.path == "roles.ops.grants[0].upstreams[0]" })
        let glob = Self.problems(Self.config(role: "{ grants: [{ upstreams: ['air*'], verbs: ['view'] }] }"))
        Self.expectProblem(glob, at: "roles.ops.grants[0].upstreams[0]", containing: "pattern \"air*\" matches no upstream")
        // An upstream named in pipelines is a pipeline, and there is none of that name.
        let asPipeline = Self.problems(Self.config(role: "{ grants: [{ pipelines: ['luigi'], verbs: ['view'] }] }"))
        Self.expectProblem(asPipeline, at: "roles.ops.grants[0].pipelines[0]", containing: "unknown pipeline \"luigi\"")
    }

    @Test("operate in a grant without upstreams is a problem at the verb")
    func operateWithoutUpstreams() {
        for role in [
            "{ grants: [{ pipelines: ['p'], verbs: ['view', 'operate'] }] }",
            "{ grants: [{ pipelines: ['*'], verbs: ['view', 'operate'] }] }",
        ] {
            let problems = Self.problems(Self.config(role: role))
            Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "operate is about guarded upstreams")
            #expect(!problems.contains { $0.path == "roles.ops.grants[0].verbs[0]" })
        }
    }

    @Test(
        "A pipeline verb in a grant with only upstreams is a problem at the verb",
        arguments: ["trigger", "cancel", "retry", "logs", "audit"])
    func pipelineVerbWithOnlyUpstreams(verb: String) {
        let problems = Self.problems(Self.config(role: "{ grants: [{ upstreams: ['luigi'], verbs: ['view', '\(verb)'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].verbs[1]", containing: "\(verb) is about pipelines")
        #expect(!problems.contains { $0.path == "roles.ops.grants[0].verbs[0]" }, "view is about upstreams too")
    }

    @Test("The same verbs are fine in a grant that names pipelines as well")
    func pipelineVerbWithBoth() throws {
        let config = try Self.load(
            Self.config(
                role: "{ users: ['ann'], grants: [{ pipelines: ['p'], upstreams: ['luigi'], verbs: ['view', 'trigger', 'operate'] }] }"))
        let ann = Subject(user: "ann")
        #expect(config.policy.verbs(of: ann, on: "p") == [.view, .trigger])
        #expect(config.policy.decideOnUpstream(ann, .operate, upstream: "luigi").isAllowed)
        #expect(!config.policy.decideOnUpstream(ann, .trigger, upstream: "luigi").isAllowed)
    }

    @Test("A grant with neither pipelines nor upstreams is a problem")
    func grantWithNeither() {
        let problems = Self.problems(Self.config(role: "{ grants: [{ verbs: ['view'] }] }"))
        Self.expectProblem(problems, at: "roles.ops.grants[0].pipelines", containing: "required")
    }

    @Test("A rule's verb must be view or operate", arguments: ["trigger", "admin", "audit", "logs", "bogus", "View", "OPERATE"])
    func ruleVerb(verb: String) {
        let problems = Self.problems(
            Self.config(luigi: "{ rules: [{ methods: ['GET'], paths: ['/'], verb: '\(verb)' }] }", role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].verb", containing: "\"\(verb)\" is not a verb about upstreams")
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].verb", containing: "view, operate")
    }

    @Test("A rule without a verb is a problem")
    func ruleWithoutVerb() {
        let problems = Self.problems(Self.config(luigi: "{ rules: [{ methods: ['GET'], paths: ['/'] }] }", role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].verb", containing: "required")
    }

    @Test("A rule with no paths is a problem", arguments: ["paths: [], ", ""])
    func ruleWithoutPaths(paths: String) {
        let problems = Self.problems(
            Self.config(
                luigi: "{ rules: [{ methods: ['GET'], paths: ['/'], verb: 'view' }, { methods: ['GET'], \(paths)verb: 'view' }] }",
                role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules[1].paths", containing: "at least one path pattern")
        #expect(!problems.contains { $0.path.hasPrefix("upstreams.luigi.rules[0]") })
    }

    @Test(
        "An invalid path pattern is a problem at the pattern, with the reason",
        arguments: [
            ("api/task_list", "must start with /"), ("/api/%5F", "contains \"%\""), ("/api?x", "contains \"?\""),
            ("//", "empty segment"), ("/a/../b", "dot segment"), ("/a**b", "** may only be"), ("/**/x", "** may only be"),
        ])
    func invalidPathPattern(pattern: String, reason: String) {
        let problems = Self.problems(
            Self.config(luigi: "{ rules: [{ paths: ['/ok', '\(pattern)'], verb: 'view' }] }", role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].paths[1]", containing: "invalid path pattern")
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].paths[1]", containing: reason)
        #expect(!problems.contains { $0.path == "upstreams.luigi.rules[0].paths[0]" })
    }

    @Test("A path pattern not in Unicode NFC is a problem")
    func pathPatternNotNFC() {
        let problems = Self.problems(
            Self.config(luigi: "{ rules: [{ paths: ['/Ko\u{308}ln'], verb: 'view' }] }", role: Self.viewRole))
        #expect(problems.contains { $0.path == "upstreams.luigi.rules[0].paths[0]" }, "\(problems)")
    }

    @Test("A method not in capitals is a problem at the method", arguments: ["get", "Get", "", "GET ", "\u{FF27}ET"])
    func lowercaseMethod(method: String) {
        let problems = Self.problems(
            Self.config(luigi: "{ rules: [{ methods: ['HEAD', '\(method)'], paths: ['/'], verb: 'view' }] }", role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].methods[1]", containing: "in capitals")
        #expect(!problems.contains { $0.path == "upstreams.luigi.rules[0].methods[0]" })
    }

    @Test(
        "A mount_path that ends in /, does not start with /, or holds % or ? is a problem",
        arguments: ["/luigi/", "/", "luigi", "/lu%69gi", "/luigi?x"])
    func badMountPath(mountPath: String) {
        let problems = Self.problems(Self.config(luigi: "{ mount_path: '\(mountPath)', \(Self.luigiRules) }", role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.mount_path", containing: "not end with /")
    }

    @Test("upstreams and params in the same grant is a problem at upstreams")
    func upstreamsWithParams() throws {
        let problems = Self.problems(
            Self.config(role: "{ grants: [{ pipelines: ['p'], upstreams: ['luigi'], verbs: ['view'], params: { env: ['staging'] } }] }"))
        Self.expectProblem(
            problems, at: "roles.ops.grants[0].upstreams", containing: "limited by parameter values allows nothing on upstreams")
        // Apart, they are fine.
        let apart = try Self.load(
            Self.config(
                role: """
                    { users: ['ann'], grants: [
                        { pipelines: ['p'], verbs: ['view'], params: { env: ['staging'] } },
                        { upstreams: ['luigi'], verbs: ['view'] },
                      ] }
                    """))
        #expect(apart.policy.decideOnUpstream(Subject(user: "ann"), .view, upstream: "luigi") == .allow(role: "ops", grantIndex: 1))
    }

    @Test("An upstream with no rules is a problem at its rules", arguments: ["{}", "{ rules: [] }", "{ mount_path: '/luigi' }"])
    func noRules(luigi: String) {
        let problems = Self.problems(Self.config(luigi: luigi, role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.rules", containing: "at least one rule")
    }

    @Test("rate_limit needs per_minute; numbers must be in range")
    func rateLimit() {
        let noPerMinute = Self.problems(Self.config(luigi: "{ rate_limit: { burst: 5 }, \(Self.luigiRules) }", role: Self.viewRole))
        Self.expectProblem(noPerMinute, at: "upstreams.luigi.rate_limit.per_minute", containing: "required")
        let zero = Self.problems(Self.config(luigi: "{ rate_limit: { per_minute: 0 }, \(Self.luigiRules) }", role: Self.viewRole))
        Self.expectProblem(zero, at: "upstreams.luigi.rate_limit.per_minute", containing: "whole number")
    }

    @Test("Unknown keys in an upstream, a rule or a rate limit are problems")
    func unknownKeys() {
        let problems = Self.problems(
            Self.config(
                luigi: "{ mount: '/x', rate_limit: { per_minute: 5, brust: 2 }, rules: [{ paths: ['/'], verbs: 'view' }] }",
                role: Self.viewRole))
        Self.expectProblem(problems, at: "upstreams.luigi.mount", containing: "unknown key")
        Self.expectProblem(problems, at: "upstreams.luigi.rate_limit.brust", containing: "unknown key")
        Self.expectProblem(problems, at: "upstreams.luigi.rules[0].verbs", containing: "unknown key")
    }

    @Test("An invalid upstream name is a problem", arguments: ["-luigi", "lu igi", "luigi/x", ""])
    func invalidName(name: String) {
        let problems = Self.problems(
            """
            { upstreams: { '\(name)': { \(Self.luigiRules) } } }
            """)
        Self.expectProblem(problems, at: "upstreams.\(name)", containing: "invalid upstream name")
    }
}
