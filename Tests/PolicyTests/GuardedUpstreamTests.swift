import ByteStrings
import Policy
import Testing

/// `GuardedUpstream.match`: rules map a request's method and decoded path to a verb; the first
/// rule that covers it decides, and a request no rule covers is `noRule` (denied).
@Suite struct GuardedUpstreamTests {
    static func rule(_ methods: [String], _ paths: [String], _ verb: Verb) throws -> GuardedUpstream.Rule {
        GuardedUpstream.Rule(methods: methods, paths: try paths.map { try PathPattern($0) }, verb: verb)
    }

    /// Luigi's scheduler: pages and reads are `view`, `forgive_failures` is `operate`.
    static func luigi(mountPath: String? = nil) throws -> GuardedUpstream {
        GuardedUpstream(
            name: "luigi", mountPath: mountPath,
            rules: [
                try self.rule(["GET", "HEAD"], ["/", "/static/**", "/api/task_list"], .view),
                try self.rule(["GET", "POST"], ["/api/forgive_failures"], .operate),
            ])
    }

    static func path(_ segments: String...) -> UpstreamPath { UpstreamPath(segments: segments) }

    @Test("Each request maps to the verb of the rule that covers its method and path")
    func mapsToVerbs() throws {
        let luigi = try Self.luigi()
        #expect(luigi.match(method: "GET", target: "/") == .rule(index: 0, verb: .view, path: Self.path("")))
        #expect(luigi.match(method: "HEAD", target: "/static/a.js") == .rule(index: 0, verb: .view, path: Self.path("static", "a.js")))
        #expect(
            luigi.match(method: "GET", target: "/api/task_list?data=%7B%22status%22%3A%22FAILED%22%7D")
                == .rule(index: 0, verb: .view, path: Self.path("api", "task_list")))
        #expect(
            luigi.match(method: "GET", target: "/api/forgive_failures?data=x")
                == .rule(index: 1, verb: .operate, path: Self.path("api", "forgive_failures")))
        #expect(
            luigi.match(method: "POST", target: "/api/forgive%5Ffailures")
                == .rule(index: 1, verb: .operate, path: Self.path("api", "forgive_failures")))
    }

    @Test("A request no rule covers is noRule, with its decoded path: another path, or a method the rule does not list")
    func noRule() throws {
        let luigi = try Self.luigi()
        #expect(luigi.match(method: "GET", target: "/api/other") == .noRule(path: Self.path("api", "other")))
        #expect(luigi.match(method: "POST", target: "/api/task_list") == .noRule(path: Self.path("api", "task_list")))
        #expect(luigi.match(method: "DELETE", target: "/api/forgive_failures") == .noRule(path: Self.path("api", "forgive_failures")))
        #expect(luigi.match(method: "GET", target: "/api/task_list/") == .noRule(path: Self.path("api", "task_list", "")))
        #expect(luigi.match(method: "GET", target: "/api/task%5Flists") == .noRule(path: Self.path("api", "task_lists")))
        #expect(GuardedUpstream(name: "empty", mountPath: nil, rules: []).match(method: "GET", target: "/") == .noRule(path: Self.path("")))
    }

    @Test("Methods compare exactly as bytes: get, Get or GET with a space are not GET")
    func methodsExact() throws {
        let luigi = try Self.luigi()
        #expect(luigi.match(method: "GET", target: "/api/task_list") == .rule(index: 0, verb: .view, path: Self.path("api", "task_list")))
        for method in ["get", "Get", "GET ", " GET", "GETX", "GE", "", "\u{FF27}ET"] {
            #expect(
                luigi.match(method: method, target: "/api/task_list") == .noRule(path: Self.path("api", "task_list")), "method \(method)")
        }
    }

    @Test("A rule with no methods covers every method, spelled any way")
    func emptyMethods() throws {
        let any = GuardedUpstream(name: "any", mountPath: nil, rules: [try Self.rule([], ["/api/*"], .operate)])
        for method in ["GET", "POST", "DELETE", "PROPFIND", "get"] {
            #expect(any.match(method: method, target: "/api/x") == .rule(index: 0, verb: .operate, path: Self.path("api", "x")))
        }
        #expect(any.match(method: "GET", target: "/other") == .noRule(path: Self.path("other")))
    }

    @Test("The first rule that covers a request wins, whatever later rules say")
    func firstMatchWins() throws {
        let view = try Self.rule(["GET"], ["/api/task_list"], .view)
        let operate = try Self.rule([], ["/api/*"], .operate)
        let viewFirst = GuardedUpstream(name: "u", mountPath: nil, rules: [view, operate])
        let operateFirst = GuardedUpstream(name: "u", mountPath: nil, rules: [operate, view])
        let path = Self.path("api", "task_list")
        #expect(viewFirst.match(method: "GET", target: "/api/task_list") == .rule(index: 0, verb: .view, path: path))
        #expect(operateFirst.match(method: "GET", target: "/api/task_list") == .rule(index: 0, verb: .operate, path: path))
        // A request the first rule does not cover falls to the next.
        #expect(viewFirst.match(method: "POST", target: "/api/task_list") == .rule(index: 1, verb: .operate, path: path))
        #expect(viewFirst.match(method: "GET", target: "/api/x") == .rule(index: 1, verb: .operate, path: Self.path("api", "x")))
    }

    @Test("A rule covers a path any of its patterns matches")
    func anyPattern() throws {
        let rule = try Self.rule(["GET"], ["/a", "/b/**"], .view)
        #expect(rule.covers(method: "GET", path: Self.path("a")))
        #expect(rule.covers(method: "GET", path: Self.path("b", "c", "d")))
        #expect(!rule.covers(method: "GET", path: Self.path("c")))
        #expect(!rule.covers(method: "POST", path: Self.path("a")))
        #expect(!GuardedUpstream.Rule(methods: ["GET"], paths: [], verb: .view).covers(method: "GET", path: Self.path("a")))
    }

    @Test("Below a mount path: the prefix is removed; other targets are outside; unsafe ones refused")
    func mountPath() throws {
        let luigi = try Self.luigi(mountPath: "/luigi")
        #expect(
            luigi.match(method: "GET", target: "/luigi/api/task_list?data=x")
                == .rule(index: 0, verb: .view, path: Self.path("api", "task_list")))
        #expect(luigi.match(method: "GET", target: "/luigi") == .rule(index: 0, verb: .view, path: Self.path("")))
        #expect(luigi.match(method: "GET", target: "/api/task_list") == .outside)
        #expect(luigi.match(method: "GET", target: "/luigiX/api/task_list") == .outside)
        #expect(luigi.match(method: "GET", target: "/luigi/api/other") == .noRule(path: Self.path("api", "other")))
        guard case .refused(let refusal) = luigi.match(method: "GET", target: "/luigi/api%2Fforgive_failures") else {
            Issue.record("an encoded slash was not refused")
            return
        }
        #expect(refusal.reason.contains("encoded slash"))
        guard case .refused(let dots) = luigi.match(method: "GET", target: "/luigi/static/../api/forgive_failures") else {
            Issue.record("a dot segment was not refused")
            return
        }
        #expect(dots.reason.contains("dot segment"))
    }

    @Test("Paths compare as bytes: a rule for /KPI does not cover a path spelled with KELVIN SIGN")
    func bytes() throws {
        let upstream = GuardedUpstream(name: "u", mountPath: nil, rules: [try Self.rule(["GET"], ["/KPI"], .view)])
        #expect(upstream.match(method: "GET", target: "/KPI") == .rule(index: 0, verb: .view, path: Self.path("KPI")))
        #expect(upstream.match(method: "GET", target: "/%E2%84%AAPI") == .noRule(path: Self.path("\u{212A}PI")))
    }
}

/// `Policy.decideOnUpstream` and the verbs about upstreams: only a grant's `upstreams` allow,
/// never its `pipelines`; `operate` is never a pipeline verb.
@Suite struct GuardedUpstreamPolicyTests {
    static let allPipelineVerbs: Set<Verb> = [.view, .trigger, .cancel, .retry, .logs, .audit, .admin]

    private let policy = Policy(roles: [
        Role(name: "everything", users: ["ada"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: Self.allPipelineVerbs)]),
        Role(
            name: "named", users: ["nat"], grants: [Grant(pipelines: [GlobPattern("luigi")], verbs: [.view, .operate])]),
        Role(
            name: "viewer", users: ["vic"], groups: ["staff"],
            grants: [Grant(pipelines: [], upstreams: [GlobPattern("luigi")], verbs: [.view])]),
        Role(
            name: "operator", users: ["olly"],
            grants: [
                Grant(pipelines: [GlobPattern("etl-*")], verbs: [.view, .trigger]),
                Grant(pipelines: [], upstreams: [GlobPattern("luigi")], verbs: [.view, .operate]),
            ]),
        Role(
            name: "limited", users: ["lars"],
            grants: [
                Grant(
                    pipelines: [GlobPattern("etl-*")], upstreams: [GlobPattern("luigi")], verbs: [.view, .operate],
                    parameters: ["env": .oneOf([ByteString("staging")])])
            ]),
        Role(name: "globbed", users: ["gil"], grants: [Grant(pipelines: [], upstreams: [GlobPattern("lu*")], verbs: [.operate])]),
        Role(name: "kpi", users: ["kim"], grants: [Grant(pipelines: [], upstreams: [GlobPattern("KPI")], verbs: [.view])]),
        Role(name: "nothing", users: ["ned"], grants: [Grant(pipelines: [GlobPattern("etl-*")], verbs: [.view])]),
    ])

    @Test("A grant on pipelines [\"*\"] with every verb grants nothing on an upstream")
    func pipelinesStarIsNotUpstreams() {
        let ada = Subject(user: "ada")
        #expect(self.policy.decide(ada, .view, pipeline: "luigi").isAllowed, "the premise: ada may view any pipeline")
        #expect(self.policy.decideOnInstance(ada, .admin).isAllowed)
        #expect(
            self.policy.decideOnUpstream(ada, .view, upstream: "luigi") == .deny(reason: "no role of ada grants view on upstream luigi"))
        #expect(!self.policy.decideOnUpstream(ada, .operate, upstream: "luigi").isAllowed)
        // Nor does a grant on a pipeline that happens to have the upstream's name.
        #expect(!self.policy.decideOnUpstream(Subject(user: "nat"), .view, upstream: "luigi").isAllowed)
        #expect(!self.policy.decideOnUpstream(Subject(user: "ned"), .view, upstream: "luigi").isAllowed)
    }

    @Test("A grant on upstreams [\"luigi\"] with view allows view on luigi, naming the grant, but not operate")
    func viewNotOperate() {
        let vic = Subject(user: "vic")
        #expect(self.policy.decideOnUpstream(vic, .view, upstream: "luigi") == .allow(role: "viewer", grantIndex: 0))
        #expect(
            self.policy.decideOnUpstream(vic, .operate, upstream: "luigi")
                == .deny(reason: "no role of vic grants operate on upstream luigi"))
        // Another upstream, or another spelling of this one, is not granted.
        #expect(!self.policy.decideOnUpstream(vic, .view, upstream: "luigi2").isAllowed)
        #expect(!self.policy.decideOnUpstream(vic, .view, upstream: "Luigi").isAllowed)
        // Through a group.
        #expect(self.policy.decideOnUpstream(Subject(user: "x", groups: ["staff"]), .view, upstream: "luigi").isAllowed)
        // Through a directly assigned role (a service token's).
        #expect(self.policy.decideOnUpstream(Subject(user: "token:ci", roles: ["viewer"]), .view, upstream: "luigi").isAllowed)
        // The upstream grant is not a pipeline grant either.
        #expect(!self.policy.decide(vic, .view, pipeline: "luigi").isAllowed)
    }

    @Test("A grant with operate on the upstream allows it, naming the grant that does")
    func operate() {
        let olly = Subject(user: "olly")
        #expect(self.policy.decideOnUpstream(olly, .operate, upstream: "luigi") == .allow(role: "operator", grantIndex: 1))
        #expect(self.policy.decideOnUpstream(olly, .view, upstream: "luigi") == .allow(role: "operator", grantIndex: 1))
        #expect(self.policy.decideOnUpstream(Subject(user: "gil"), .operate, upstream: "luigi") == .allow(role: "globbed", grantIndex: 0))
        #expect(!self.policy.decideOnUpstream(Subject(user: "gil"), .operate, upstream: "airflow").isAllowed)
        #expect(!self.policy.decideOnUpstream(Subject(user: "gil"), .view, upstream: "luigi").isAllowed)
    }

    @Test("Only view and operate are decided on upstreams; others are denied, saying so")
    func onlyUpstreamVerbs() {
        let root = Policy(roles: [
            Role(
                name: "all", users: ["root"],
                grants: [Grant(pipelines: [GlobPattern("*")], upstreams: [GlobPattern("*")], verbs: Set(Verb.allCases))])
        ])
        let subject = Subject(user: "root")
        #expect(root.decideOnUpstream(subject, .view, upstream: "luigi").isAllowed)
        #expect(root.decideOnUpstream(subject, .operate, upstream: "luigi").isAllowed)
        for verb in [Verb.trigger, .cancel, .retry, .logs, .audit, .admin] {
            #expect(
                root.decideOnUpstream(subject, verb, upstream: "luigi") == .deny(reason: "\(verb.rawValue) is not a verb about upstreams"))
        }
    }

    @Test("Nobody: a subject with no role is denied, saying so")
    func noRole() {
        #expect(self.policy.decideOnUpstream(Subject(user: "mallory"), .view, upstream: "luigi") == .deny(reason: "mallory holds no role"))
        #expect(!Policy(roles: []).decideOnUpstream(Subject(user: "root"), .view, upstream: "luigi").isAllowed)
    }

    @Test("operate is never allowed on a pipeline by decide, even by a grant on * that names it")
    func operateNeverOnPipelines() {
        let odd = Policy(roles: [
            Role(name: "odd", users: ["oz"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view, .operate])])
        ])
        let oz = Subject(user: "oz")
        #expect(odd.decide(oz, .view, pipeline: "etl").isAllowed, "the premise: the grant covers the pipeline")
        #expect(!odd.decide(oz, .operate, pipeline: "etl").isAllowed)
        #expect(!odd.decide(oz, .operate, pipeline: "etl", parameters: [:]).isAllowed)
        #expect(odd.verbs(of: oz, on: "etl") == [.view])
        #expect(!self.policy.decide(Subject(user: "nat"), .operate, pipeline: "luigi").isAllowed)
        #expect(!self.policy.decide(Subject(user: "olly"), .operate, pipeline: "luigi").isAllowed)
        #expect(!self.policy.decide(Subject(user: "lars"), .operate, pipeline: "etl-x").isAllowed)
        #expect(!odd.decideOnInstance(oz, .operate).isAllowed)
    }

    @Test("The verb lists: operate is an upstream verb only, view both, admin neither")
    func verbLists() {
        #expect(!Verb.pipelineVerbs.contains(.operate))
        #expect(Verb.pipelineVerbs == [.view, .trigger, .cancel, .retry, .logs, .approve, .audit])
        #expect(Verb.upstreamVerbs == [.view, .operate])
        #expect(Verb.instanceVerbs == [.admin])
        #expect(Verb.operate.appliesToUpstreams && !Verb.operate.appliesToPipelines && !Verb.operate.isAboutInstance)
        #expect(Verb.view.appliesToUpstreams && Verb.view.appliesToPipelines)
        #expect(!Verb.trigger.appliesToUpstreams && Verb.trigger.appliesToPipelines)
        #expect(!Verb.admin.appliesToUpstreams && !Verb.admin.appliesToPipelines)
        #expect(Verb(rawValue: "operate") == .operate)
    }

    @Test("A grant with parameter limits allows nothing on an upstream, though it allows on its pipelines")
    func parameterLimits() {
        let lars = Subject(user: "lars")
        #expect(self.policy.decide(lars, .view, pipeline: "etl-x").isAllowed, "the premise: the grant is in force")
        #expect(!self.policy.decideOnUpstream(lars, .view, upstream: "luigi").isAllowed)
        #expect(!self.policy.decideOnUpstream(lars, .operate, upstream: "luigi").isAllowed)
        let grant = self.policy.roles.first { $0.name == "limited" }!.grants[0]
        #expect(!grant.allowsOnUpstream(.view, "luigi"))
        var unlimited = grant
        unlimited.parameters = [:]
        #expect(unlimited.allowsOnUpstream(.view, "luigi"), "without its limits the same grant allows")
    }

    @Test("Upstream names compare as bytes")
    func bytes() {
        #expect(self.policy.decideOnUpstream(Subject(user: "kim"), .view, upstream: "KPI").isAllowed)
        #expect(!self.policy.decideOnUpstream(Subject(user: "kim"), .view, upstream: "\u{212A}PI").isAllowed)
    }
}
