import ByteStrings
import Policy
import Testing

/// `admin` is about the Sluice instance: granted only by a grant on exactly `pipelines: ["*"]`,
/// never allowed on a pipeline, held by nobody unless configured.
@Suite struct AdminVerbTests {
    private let policy = Policy(roles: [
        Role(name: "ops", users: ["alice"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view, .admin])]),
        Role(name: "etl", users: ["bob"], grants: [Grant(pipelines: [GlobPattern("etl-*")], verbs: [.view, .trigger, .admin])]),
        Role(name: "viewer", users: ["carol"], groups: ["staff"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view])]),
        Role(
            name: "oncall", groups: ["oncall"],
            grants: [
                Grant(pipelines: [GlobPattern("reports")], verbs: [.view]),
                Grant(pipelines: [GlobPattern("reports"), GlobPattern("*")], verbs: [.admin]),
            ]),
        Role(name: "odd", users: ["olga"], grants: [Grant(pipelines: [GlobPattern("?"), GlobPattern("**")], verbs: [.admin])]),
        Role(
            name: "limited", users: ["lars"],
            grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.admin], parameters: ["env": .oneOf([ByteString("staging")])])]),
    ])

    @Test("A grant on * with admin allows admin on the instance, naming the grant")
    func allowedOnStar() {
        #expect(self.policy.decideOnInstance(Subject(user: "alice"), .admin) == .allow(role: "ops", grantIndex: 0))
        // Through a group, and in a grant that also lists a pipeline beside *.
        #expect(self.policy.decideOnInstance(Subject(user: "zed", groups: ["oncall"]), .admin) == .allow(role: "oncall", grantIndex: 1))
        // Through a directly assigned role (a service token's).
        #expect(self.policy.decideOnInstance(Subject(user: "ci", roles: ["ops"]), .admin).isAllowed)
        // Through the default role.
        let defaulted = Policy(roles: self.policy.roles, defaultRole: "ops")
        #expect(defaulted.decideOnInstance(Subject(user: "anyone"), .admin).isAllowed)
    }

    @Test("Nobody has admin unless a grant on * names it")
    func deniedOtherwise() {
        // admin on etl-* is not admin on the instance, even though etl-* is a pattern.
        #expect(self.policy.decideOnInstance(Subject(user: "bob"), .admin) == .deny(reason: "no role of bob grants admin"))
        // view on * is not admin.
        #expect(!self.policy.decideOnInstance(Subject(user: "carol"), .admin).isAllowed)
        #expect(self.policy.decideOnInstance(Subject(user: "mallory"), .admin) == .deny(reason: "mallory holds no role"))
        // Patterns that would match the text "*" as a glob are not "*".
        #expect(!self.policy.decideOnInstance(Subject(user: "olga"), .admin).isAllowed)
        // A grant with parameter limits never allows admin.
        #expect(!self.policy.decideOnInstance(Subject(user: "lars"), .admin).isAllowed)
        #expect(!Policy(roles: []).decideOnInstance(Subject(user: "root"), .admin).isAllowed)
    }

    @Test("admin is never allowed on a pipeline, and pipeline verbs are not instance verbs")
    func notAPipelineVerb() {
        #expect(!self.policy.decide(Subject(user: "alice"), .admin, pipeline: "anything").isAllowed)
        #expect(!self.policy.decide(Subject(user: "bob"), .admin, pipeline: "etl-nightly").isAllowed)
        #expect(!self.policy.decide(Subject(user: "alice"), .admin, pipeline: "*").isAllowed)
        #expect(self.policy.verbs(of: Subject(user: "alice"), on: "etl") == [.view])
        #expect(self.policy.verbs(of: Subject(user: "bob"), on: "etl-x") == [.view, .trigger])
        #expect(!self.policy.decideOnInstance(Subject(user: "alice"), .view).isAllowed)
    }

    @Test("Role and user names are compared as bytes for admin too")
    func bytes() {
        // KELVIN SIGN is canonically equivalent to K but another user.
        let policy = Policy(roles: [
            Role(name: "ops", users: ["Kim"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.admin])])
        ])
        #expect(policy.decideOnInstance(Subject(user: "Kim"), .admin).isAllowed)
        #expect(!policy.decideOnInstance(Subject(user: "\u{212A}im"), .admin).isAllowed)
        #expect(!policy.decideOnInstance(Subject(user: "x", roles: ["op\u{73}\u{307}"]), .admin).isAllowed)
    }
}
