import Policy
import Testing

@Suite struct PolicyTests {
    private let policy = Policy(roles: [
        Role(name: "viewer", users: ["carol"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view])]),
        Role(
            name: "operator", users: ["alice"], groups: ["data-eng"],
            grants: [
                Grant(pipelines: [GlobPattern("reports")], verbs: [.view]),
                Grant(pipelines: [GlobPattern("etl-*")], verbs: [.view, .trigger, .cancel, .logs]),
            ]),
        Role(name: "auditor", users: ["alice", "dave"], grants: [Grant(pipelines: [GlobPattern("etl-*")], verbs: [.logs, .view])]),
    ])

    @Test("Everything is denied by default")
    func denyByDefault() {
        #expect(!Policy(roles: []).decide(Subject(user: "root"), .view, pipeline: "etl").isAllowed)
        #expect(!self.policy.decide(Subject(user: "mallory"), .view, pipeline: "etl-nightly").isAllowed)
        #expect(!self.policy.decide(Subject(user: "carol"), .trigger, pipeline: "etl-nightly").isAllowed)
        #expect(!self.policy.decide(Subject(user: "alice"), .trigger, pipeline: "reports").isAllowed)
        #expect(!self.policy.decide(Subject(user: "alice"), .view, pipeline: "other").isAllowed)
    }

    @Test("A role held through the user name allows what its grants allow")
    func userRole() {
        #expect(self.policy.decide(Subject(user: "carol"), .view, pipeline: "anything") == .allow(role: "viewer", grantIndex: 0))
        #expect(self.policy.decide(Subject(user: "alice"), .trigger, pipeline: "etl-nightly").isAllowed)
    }

    @Test("A role held through a group allows what its grants allow")
    func groupRole() {
        let member = Subject(user: "zed", groups: ["staff", "data-eng"])
        #expect(self.policy.decide(member, .trigger, pipeline: "etl-nightly") == .allow(role: "operator", grantIndex: 1))
        #expect(!self.policy.decide(Subject(user: "zed", groups: ["staff"]), .trigger, pipeline: "etl-nightly").isAllowed)
        // A group name is not a user name, and a user name is not a group name.
        #expect(!self.policy.decide(Subject(user: "data-eng"), .view, pipeline: "etl-nightly").isAllowed)
        #expect(!self.policy.decide(Subject(user: "x", groups: ["alice"]), .view, pipeline: "etl-nightly").isAllowed)
    }

    @Test("The first allowing grant of the first allowing role is reported")
    func firstAllowingGrant() {
        // operator comes before auditor, and its second grant is the first that allows view on etl-*.
        #expect(self.policy.decide(Subject(user: "alice"), .view, pipeline: "etl-x") == .allow(role: "operator", grantIndex: 1))
        #expect(self.policy.decide(Subject(user: "alice"), .view, pipeline: "reports") == .allow(role: "operator", grantIndex: 0))
        #expect(self.policy.decide(Subject(user: "dave"), .logs, pipeline: "etl-x") == .allow(role: "auditor", grantIndex: 0))
    }

    @Test("A denial says why and names the user")
    func denyReasons() {
        guard case .deny(let none) = self.policy.decide(Subject(user: "mallory"), .view, pipeline: "etl-x") else {
            Issue.record("expected a denial")
            return
        }
        #expect(none.contains("mallory"))
        #expect(none.contains("no role"))
        guard case .deny(let missing) = self.policy.decide(Subject(user: "carol"), .cancel, pipeline: "etl-x") else {
            Issue.record("expected a denial")
            return
        }
        #expect(missing.contains("carol"))
        #expect(missing.contains("cancel"))
        #expect(missing.contains("etl-x"))
    }

    @Test("roles(of:) lists the roles held by name or group, in configuration order")
    func rolesOf() {
        #expect(self.policy.roles(of: Subject(user: "alice")).map(\.name) == ["operator", "auditor"])
        #expect(self.policy.roles(of: Subject(user: "q", groups: ["data-eng"])).map(\.name) == ["operator"])
        #expect(self.policy.roles(of: Subject(user: "q")).isEmpty)
    }

    @Test("verbs(of:on:) lists exactly the verbs allowed")
    func verbsOf() {
        #expect(self.policy.verbs(of: Subject(user: "alice"), on: "etl-nightly") == [.view, .trigger, .cancel, .logs])
        #expect(self.policy.verbs(of: Subject(user: "alice"), on: "reports") == [.view])
        #expect(self.policy.verbs(of: Subject(user: "dave"), on: "etl-nightly") == [.view, .logs])
        #expect(self.policy.verbs(of: Subject(user: "carol"), on: "etl-nightly") == [.view])
        #expect(self.policy.verbs(of: Subject(user: "mallory"), on: "etl-nightly").isEmpty)
    }

    @Test("A grant allows only its verbs on pipelines matching one of its patterns")
    func grantAllows() {
        let grant = Grant(pipelines: [GlobPattern("a"), GlobPattern("b-*")], verbs: [.view, .logs])
        #expect(grant.allows(.view, on: "a"))
        #expect(grant.allows(.logs, on: "b-1"))
        #expect(!grant.allows(.trigger, on: "a"))
        #expect(!grant.allows(.view, on: "c"))
        #expect(!Grant(pipelines: [], verbs: [.view]).allows(.view, on: "a"))
        #expect(!Grant(pipelines: [GlobPattern("*")], verbs: []).allows(.view, on: "a"))
    }

    @Test("Empty and hostile user names hold no role unless listed")
    func hostileNames() {
        #expect(!self.policy.decide(Subject(user: ""), .view, pipeline: "etl-x").isAllowed)
        #expect(!self.policy.decide(Subject(user: "alice "), .view, pipeline: "etl-x").isAllowed)
        #expect(!self.policy.decide(Subject(user: "ALICE"), .view, pipeline: "etl-x").isAllowed)
        #expect(!self.policy.decide(Subject(user: "*"), .view, pipeline: "etl-x").isAllowed)
    }

    @Test("Verbs have their configuration spelling")
    func verbNames() {
        #expect(Verb.allCases.map(\.rawValue) == ["view", "trigger", "cancel", "retry", "logs", "approve", "audit", "admin", "operate"])
        #expect(Verb.pipelineVerbs.map(\.rawValue) == ["view", "trigger", "cancel", "retry", "logs", "approve", "audit"])
        #expect(Verb.instanceVerbs == [.admin])
        #expect(Verb.upstreamVerbs == [.view, .operate])
        #expect(Verb(rawValue: "ADMIN") == nil)
        #expect(Verb(rawValue: "deploy") == nil)
        #expect(Verb(rawValue: "VIEW") == nil)
    }
}
