/// Permission to use some verbs on the pipelines whose names match some patterns.
public struct Grant: Sendable, Hashable {
    /// Pipeline-name patterns.
    public var pipelines: [GlobPattern]
    /// The verbs granted.
    public var verbs: Set<Verb>

    /// Creates a grant.
    public init(pipelines: [GlobPattern], verbs: Set<Verb>) {
        self.pipelines = pipelines
        self.verbs = verbs
    }

    /// Whether this grant allows `verb` on `pipeline`.
    public func allows(_ verb: Verb, on pipeline: String) -> Bool {
        self.verbs.contains(verb) && self.pipelines.contains { $0.matches(pipeline) }
    }
}

/// A named set of grants, held by users and groups.
public struct Role: Sendable, Hashable {
    /// The role's name, as in the configuration.
    public var name: String
    /// Users who hold the role.
    public var users: Set<String>
    /// Groups whose members hold the role.
    public var groups: Set<String>
    /// What the role may do.
    public var grants: [Grant]

    /// Creates a role.
    public init(name: String, users: Set<String> = [], groups: Set<String> = [], grants: [Grant]) {
        self.name = name
        self.users = users
        self.groups = groups
        self.grants = grants
    }
}
