public import ByteStrings

/// Who holds which roles, and what each role may do. Deny by default. Pure: no I/O.
///
/// ```swift
/// let policy = Policy(roles: [Role(name: "viewer", users: ["carol"], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.view])])])
/// policy.decide(Subject(user: "carol"), .trigger, pipeline: "etl")   // .deny
/// ```
public struct Policy: Sendable {
    /// All roles, in configuration order.
    public let roles: [Role]
    /// A role every authenticated subject holds, if configured.
    public let defaultRole: String?

    /// Creates a policy.
    public init(roles: [Role], defaultRole: String? = nil) {
        self.roles = roles
        self.defaultRole = defaultRole
    }

    /// The roles `subject` holds: through its user name, any of its groups, roles assigned to it
    /// directly (service tokens), or the default role.
    public func roles(of subject: Subject) -> [Role] {
        // What `membership` decides, without its explanation: that built a set per role (the
        // groups in common) and a name per role on every request (4 % of a job's JSON).
        let user = ByteString(subject.user)
        return self.roles.filter { role in
            role.users.contains(user) || (!subject.groups.isEmpty && !role.groups.isDisjoint(with: subject.groups))
                || (!subject.roles.isEmpty && subject.roles.contains(ByteString(role.name)))
                || (self.defaultRole.map { role.name.bytesEqual($0) } ?? false)
        }
    }

    /// Why `subject` holds `role` (for explanations), or nil if it does not.
    public func membership(of subject: Subject, in role: Role) -> String? {
        // Every comparison is of bytes (ByteString), never Swift's canonical equivalence.
        if role.users.contains(ByteString(subject.user)) { return "user \(subject.user)" }
        if let group = role.groups.intersection(subject.groups).sorted().first { return "group \(group)" }
        if subject.roles.contains(ByteString(role.name)) { return "assigned directly" }
        if let defaultRole = self.defaultRole, role.name.bytesEqual(defaultRole) { return "default role" }
        return nil
    }

    /// Decides whether `subject` may use `verb` on `pipeline` — with `parameters` when the
    /// question is about particular values (a trigger, or an existing job), else about the
    /// pipeline as such.
    public func decide(_ subject: Subject, _ verb: Verb, pipeline: String, parameters: [String: String]? = nil) -> Decision {
        let held =
            verb == .approve && subject.approvesOnlyThroughAssignedRoles
            ? self.roles.filter { subject.roles.contains(ByteString($0.name)) } : self.roles(of: subject)
        if held.isEmpty && verb == .approve && subject.approvesOnlyThroughAssignedRoles {
            return .deny(reason: "\(subject.user) approves only through the roles configured for it, and holds none")
        }
        for role in held {
            if let index = role.grants.firstIndex(where: { $0.allows(verb, on: pipeline, parameters: parameters) }) {
                return .allow(role: role.name, grantIndex: index)
            }
        }
        if held.isEmpty { return .deny(reason: "\(subject.user) holds no role") }
        if parameters != nil, self.decide(subject, verb, pipeline: pipeline).isAllowed {
            return .deny(reason: "no role of \(subject.user) grants \(verb.rawValue) on \(pipeline) with these parameter values")
        }
        return .deny(reason: "no role of \(subject.user) grants \(verb.rawValue) on \(pipeline)")
    }

    /// The verbs `subject` may use on `pipeline` (never a verb about the instance).
    public func verbs(of subject: Subject, on pipeline: String) -> Set<Verb> {
        Set(Verb.pipelineVerbs.filter { self.decide(subject, $0, pipeline: pipeline).isAllowed })
    }

    /// Decides whether `subject` may use `verb` on the guarded upstream named `upstream`.
    ///
    /// Only grants whose `upstreams` patterns match allow; `pipelines` patterns never do, so a
    /// role that may do everything with every pipeline may still do nothing with Luigi.
    public func decideOnUpstream(_ subject: Subject, _ verb: Verb, upstream: String) -> Decision {
        guard verb.appliesToUpstreams else { return .deny(reason: "\(verb.rawValue) is not a verb about upstreams") }
        let held = self.roles(of: subject)
        for role in held {
            if let index = role.grants.firstIndex(where: { $0.allowsOnUpstream(verb, upstream) }) {
                return .allow(role: role.name, grantIndex: index)
            }
        }
        if held.isEmpty { return .deny(reason: "\(subject.user) holds no role") }
        return .deny(reason: "no role of \(subject.user) grants \(verb.rawValue) on upstream \(upstream)")
    }

    /// Decides whether `subject` may use `verb`, a verb about the Sluice instance (`admin`).
    ///
    /// Only a grant on exactly `pipelines: ["*"]` that names the verb allows it; a grant on
    /// some pipelines never does, whatever its patterns match. A verb about pipelines is denied
    /// here: ask `decide(_:_:pipeline:parameters:)`.
    public func decideOnInstance(_ subject: Subject, _ verb: Verb) -> Decision {
        guard verb.isAboutInstance else { return .deny(reason: "\(verb.rawValue) is about pipelines, not the instance") }
        let held = self.roles(of: subject)
        for role in held {
            if let index = role.grants.firstIndex(where: { $0.allowsOnInstance(verb) }) {
                return .allow(role: role.name, grantIndex: index)
            }
        }
        if held.isEmpty { return .deny(reason: "\(subject.user) holds no role") }
        return .deny(reason: "no role of \(subject.user) grants \(verb.rawValue)")
    }
}

/// The identity a decision is about: a user name and the groups it belongs to.
public struct Subject: Sendable, Hashable {
    /// The user name (or service-token name).
    public var user: String
    /// Group names, compared as bytes.
    public var groups: Set<ByteString>
    /// Roles assigned directly (a service token's configured roles), not derived from membership.
    public var roles: Set<ByteString>
    /// Whether `approve` comes only from `roles` (a service token: a machine approves only where
    /// a role configured for it says so, never through the default role, a user name or a group).
    public var approvesOnlyThroughAssignedRoles: Bool

    /// Creates a subject.
    public init(user: String, groups: Set<ByteString> = [], roles: Set<ByteString> = [], approvesOnlyThroughAssignedRoles: Bool = false) {
        self.user = user
        self.groups = groups
        self.roles = roles
        self.approvesOnlyThroughAssignedRoles = approvesOnlyThroughAssignedRoles
    }
}
