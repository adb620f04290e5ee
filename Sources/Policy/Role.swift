public import ByteStrings

/// Permission to use some verbs on the pipelines, and on the guarded upstreams, whose names
/// match some patterns.
public struct Grant: Sendable, Hashable {
    /// Pipeline-name patterns.
    public var pipelines: [GlobPattern]
    /// Guarded-upstream name patterns (see `GuardedUpstream`). Separate from `pipelines`: a grant
    /// on every pipeline (`*`) grants nothing on an upstream.
    public var upstreams: [GlobPattern]
    /// The verbs granted.
    public var verbs: Set<Verb>
    /// Limits on parameter values, by parameter name; empty means any values.
    public var parameters: [String: ParameterConstraint]

    /// Creates a grant.
    public init(
        pipelines: [GlobPattern], upstreams: [GlobPattern] = [], verbs: Set<Verb>, parameters: [String: ParameterConstraint] = [:]
    ) {
        self.pipelines = pipelines
        self.upstreams = upstreams
        self.verbs = verbs
        self.parameters = parameters
    }

    /// Whether this grant allows `verb` on the guarded upstream named `upstream`: the verb is one
    /// about upstreams, the grant names it, and one of its `upstreams` patterns matches. Parameter
    /// limits are about pipelines: a grant that has them allows nothing on an upstream (`sluice
    /// check` refuses the combination).
    public func allowsOnUpstream(_ verb: Verb, _ upstream: String) -> Bool {
        verb.appliesToUpstreams && self.verbs.contains(verb) && self.parameters.isEmpty
            && self.upstreams.contains(where: { $0.matches(upstream) })
    }

    /// Whether this grant allows `verb` on `pipeline` with `parameters`.
    ///
    /// `parameters` nil asks about the pipeline as such (may I trigger it at all?): a grant with
    /// constraints then allows, since some values satisfy it. Given values (a trigger's, or an
    /// existing job's) must satisfy every constraint. A verb about the instance (`admin`) is
    /// never allowed on a pipeline: see `allowsOnInstance(_:)`.
    public func allows(_ verb: Verb, on pipeline: String, parameters values: [String: String]? = nil) -> Bool {
        guard verb.appliesToPipelines, self.verbs.contains(verb), self.pipelines.contains(where: { $0.matches(pipeline) }) else {
            return false
        }
        guard let values else { return true }
        // Looked up by bytes: a value supplied under a canonically equivalent spelling of the
        // name (`\u{212A}ey` for `Key`) is not the value of that parameter.
        return self.parameters.allSatisfy { name, constraint in constraint.admits(values[exactly: name]) }
    }

    /// Whether this grant covers the Sluice instance as a whole: one of its patterns is exactly
    /// `*` (compared as bytes, not matched as a glob, so `?` or `**`-like spellings do not count).
    public var coversInstance: Bool { self.pipelines.contains(GlobPattern("*")) }

    /// Whether this grant allows `verb`, a verb about the instance (`admin`): it names the verb,
    /// covers the instance (`pipelines: ["*"]`) and limits no parameter values (`sluice check`
    /// refuses such limits beside `admin`; if one slipped through it would not allow).
    public func allowsOnInstance(_ verb: Verb) -> Bool {
        verb.isAboutInstance && self.verbs.contains(verb) && self.coversInstance && self.parameters.isEmpty
    }
}

/// A named set of grants, held by users and groups.
public struct Role: Sendable, Hashable {
    /// The role's name, as in the configuration.
    public var name: String
    /// Users who hold the role, compared as bytes.
    public var users: Set<ByteString>
    /// Groups whose members hold the role, compared as bytes.
    public var groups: Set<ByteString>
    /// What the role may do.
    public var grants: [Grant]

    /// Creates a role.
    public init(name: String, users: Set<ByteString> = [], groups: Set<ByteString> = [], grants: [Grant]) {
        self.name = name
        self.users = users
        self.groups = groups
        self.grants = grants
    }
}
