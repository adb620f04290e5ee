import Policy
import Testing

@Suite struct ParameterConstraintTests {
    @Test("A list admits exactly its values; a missing value never")
    func oneOf() {
        let c = ParameterConstraint.oneOf(["staging", "dev"])
        #expect(c.admits("staging"))
        #expect(!c.admits("Staging"))
        #expect(!c.admits("prod"))
        #expect(!c.admits(nil))
        #expect(ParameterConstraint.oneOf([]).isUnsatisfiable)
    }

    @Test("A range admits plain decimal numbers within it and nothing else", arguments: [
        ("5", true), ("1", true), ("10", true), ("10.0", true), ("1e1", true), ("0", false), ("11", false), ("inf", false),
        ("nan", false), ("0x5", false), (" 5", false), ("5 ", false), ("", false), ("-", false), (String(repeating: "1", count: 41), false),
    ])
    func range(value: String, admitted: Bool) {
        #expect(ParameterConstraint.range(min: 1, max: 10).admits(value) == admitted)
    }

    @Test("min above max can never match")
    func impossibleRange() {
        #expect(ParameterConstraint.range(min: 5, max: 1).isUnsatisfiable)
        #expect(!ParameterConstraint.range(min: 1, max: nil).isUnsatisfiable)
    }

    @Test("A constrained grant allows the pipeline as such, and values only when they satisfy it")
    func constrainedGrant() {
        let analyst = Role(name: "analyst", users: ["ann"], grants: [
            Grant(pipelines: [GlobPattern("export")], verbs: [.view, .trigger], parameters: ["env": .oneOf(["staging"])])
        ])
        let policy = Policy(roles: [analyst])
        let ann = Subject(user: "ann")
        #expect(policy.decide(ann, .trigger, pipeline: "export").isAllowed)
        #expect(policy.decide(ann, .trigger, pipeline: "export", parameters: ["env": "staging"]).isAllowed)
        guard case .deny(let reason) = policy.decide(ann, .trigger, pipeline: "export", parameters: ["env": "prod"]) else {
            Issue.record("prod allowed")
            return
        }
        #expect(reason.contains("parameter values"))
        #expect(!policy.decide(ann, .trigger, pipeline: "export", parameters: [:]).isAllowed)
    }

    @Test("Another role without constraints still allows what a constrained one does not")
    func unconstrainedRoleWins() {
        let policy = Policy(roles: [
            Role(name: "analyst", users: ["ann"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.trigger], parameters: ["env": .oneOf(["staging"])])]),
            Role(name: "ops", groups: ["ops"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.trigger])]),
        ])
        #expect(policy.decide(Subject(user: "ann", groups: ["ops"]), .trigger, pipeline: "export", parameters: ["env": "prod"]) == .allow(role: "ops", grantIndex: 0))
    }

    @Test("Roles come from users, groups, direct assignment and the default role; membership says which")
    func membership() {
        let viewer = Role(name: "viewer", grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view])])
        let deployer = Role(name: "deployer", grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.trigger])])
        let policy = Policy(roles: [viewer, deployer], defaultRole: "viewer")
        let token = Subject(user: "token:ci", roles: ["deployer"])
        #expect(policy.roles(of: token).map(\.name) == ["viewer", "deployer"])
        #expect(policy.membership(of: token, in: deployer) == "assigned directly")
        #expect(policy.membership(of: token, in: viewer) == "default role")
        #expect(policy.roles(of: Subject(user: "x")).map(\.name) == ["viewer"])
    }
}

@Suite struct ParameterPatternTests {
    @Test("A glob pattern constrains values in linear time, even against a hostile value")
    func pattern() {
        let c = ParameterConstraint.pattern(GlobPattern("2024-??-*"))
        #expect(c.admits("2024-05-01"))
        #expect(!c.admits("2023-05-01"))
        #expect(!c.admits(nil))
        let hostile = ParameterConstraint.pattern(GlobPattern(String(repeating: "*a", count: 30) + "b"))
        #expect(!hostile.admits(String(repeating: "a", count: 4096)))
    }
}
