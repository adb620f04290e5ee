import ByteStrings
import Policy
import Testing

/// The policy compares names and values as bytes, never by Swift's canonical equivalence.
@Suite("Policy: names and values as bytes")
struct PolicyBytesTests {
    private let policy = Policy(
        roles: [
            Role(
                name: "Köln-ops", users: ["Jörg"], groups: ["Ärzte"],
                grants: [
                    Grant(
                        pipelines: [GlobPattern("KPI-*")], verbs: [.view, .trigger],
                        parameters: ["city": .oneOf(["Köln"]), "sep": .oneOf([";"]), "code": .pattern(GlobPattern("K?-*"))])
                ]),
            Role(name: "base", grants: [Grant(pipelines: [GlobPattern("K*")], verbs: [.view])]),
        ], defaultRole: "base")

    @Test("Users, groups and directly assigned roles match only with the same bytes")
    func membership() {
        // The premise: Swift's String == treats these as one name.
        #expect("Jörg" == "Jo\u{308}rg")
        #expect(self.policy.decide(Subject(user: "Jörg"), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(!self.policy.decide(Subject(user: "Jo\u{308}rg"), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(self.policy.decide(Subject(user: "x", groups: ["Ärzte"]), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(!self.policy.decide(Subject(user: "x", groups: ["A\u{308}rzte"]), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(self.policy.decide(Subject(user: "t", roles: ["Köln-ops"]), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(!self.policy.decide(Subject(user: "t", roles: ["Ko\u{308}ln-ops"]), .trigger, pipeline: "KPI-report").isAllowed)
        #expect(self.policy.membership(of: Subject(user: "Jo\u{308}rg"), in: self.policy.roles[0]) == nil)
    }

    @Test("roles(of:) holds exactly the roles membership(of:in:) explains, for 2,000 random subjects of look-alike names")
    func rolesAgreeWithMembership() {
        let names: [String] = ["Jörg", "Jo\u{308}rg", "Ärzte", "A\u{308}rzte", "Köln-ops", "Ko\u{308}ln-ops", "base", "x", ""]
        let policies = [self.policy, Policy(roles: self.policy.roles), Policy(roles: self.policy.roles, defaultRole: "Ko\u{308}ln-ops")]
        var generator = SystemRandomNumberGenerator()
        func some() -> Set<ByteString> {
            Set((0..<Int.random(in: 0...2, using: &generator)).map { _ in ByteString(names.randomElement(using: &generator)!) })
        }
        for _ in 0..<2_000 {
            let subject = Subject(user: names.randomElement(using: &generator)!, groups: some(), roles: some())
            for policy in policies {
                let held = policy.roles(of: subject).map { ByteString($0.name) }
                let explained = policy.roles.filter { policy.membership(of: subject, in: $0) != nil }.map { ByteString($0.name) }
                #expect(held == explained, "\(subject)")
            }
        }
    }

    @Test("Pipeline globs match scalars exactly: K is not KELVIN SIGN, not a full-width K")
    func globs() {
        #expect(GlobPattern("KPI-*").matches("KPI-report"))
        #expect(!GlobPattern("KPI-*").matches("\u{212A}PI-report"))
        #expect(!GlobPattern("KPI-*").matches("\u{FF2B}PI-report"))
        #expect(!GlobPattern("a;*").matches("a\u{37E}b"))
        #expect(!GlobPattern("Köln").matches("Ko\u{308}ln"))
        #expect(GlobPattern("K?ln").matches("Köln"))  // `?` is one scalar
        #expect(!GlobPattern("K?ln").matches("Ko\u{308}ln"))
        #expect(GlobPattern("KPI-*") != GlobPattern("\u{212A}PI-*"))
        #expect(!self.policy.decide(Subject(user: "nobody"), .view, pipeline: "\u{212A}PI-report").isAllowed)
    }

    @Test(
        "Value constraints admit only the configured bytes",
        arguments: [
            ("city", "Ko\u{308}ln"), ("city", "\u{212A}öln"), ("city", "\u{FF2B}öln"), ("sep", "\u{37E}"), ("sep", "\u{FF1B}"),
            ("code", "\u{212A}1-x"),
        ])
    func values(_ name: String, _ value: String) {
        var values = ["city": "Köln", "sep": ";", "code": "K1-x"]
        #expect(self.policy.decide(Subject(user: "Jörg"), .trigger, pipeline: "KPI-report", parameters: values).isAllowed)
        values[name] = value
        #expect(!self.policy.decide(Subject(user: "Jörg"), .trigger, pipeline: "KPI-report", parameters: values).isAllowed)
    }

    @Test("A value supplied under another spelling of the parameter's name does not satisfy the constraint")
    func parameterNameSpelling() {
        // "\u{212A}ey" and "Key" are one dictionary key to Swift; the grant must not see "Köln" there.
        let grant = Grant(pipelines: [GlobPattern("*")], verbs: [.trigger], parameters: ["Key": .oneOf(["v"])])
        #expect(grant.allows(.trigger, on: "p", parameters: ["Key": "v"]))
        #expect(!grant.allows(.trigger, on: "p", parameters: ["\u{212A}ey": "v"]))
    }

    @Test("The default role is matched by bytes")
    func defaultRole() {
        let policy = Policy(
            roles: [Role(name: "Kbase", grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view])])], defaultRole: "\u{212A}base")
        #expect(!policy.decide(Subject(user: "anyone"), .view, pipeline: "p").isAllowed)
    }
}
