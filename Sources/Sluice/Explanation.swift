import ByteStrings
import Identity
import Pages
import Policy

/// Who a principal is and what it may do on each pipeline, with the grant that allows each verb:
/// the answer of `/whoami`, `/api/v1/whoami` and `sluice explain`.
struct Explanation: Encodable {
    struct RoleMembership: Encodable {
        var name: String
        var via: String
    }

    struct Permission: Encodable {
        var verb: String
        var grant: String
    }

    struct PipelineAccess: Encodable {
        var name: String
        var verbs: [Permission]
    }

    struct LimitInfo: Encodable {
        var name: String
        var per_minute: Int
        var burst: Int
        var available: Int?
    }

    var user: String
    var source: String
    var source_name: String?
    var groups: [String]
    var roles: [RoleMembership]
    /// Verbs about the Sluice instance itself (`admin`), each with its grant.
    var instance: [Permission]
    var pipelines: [PipelineAccess]
    /// Every guarded upstream, with the verbs allowed on it (possibly none).
    var upstreams: [PipelineAccess]
    var config_hash: String
    var limits: [LimitInfo]

    /// The policy subject of a principal: its name, groups, and directly assigned roles.
    static func subject(of principal: Principal) -> Subject {
        Subject(
            user: principal.user, groups: principal.groups.isEmpty ? [] : Set(principal.groups.map { ByteString($0) }),
            roles: principal.roles,
            approvesOnlyThroughAssignedRoles: principal.source == .serviceToken)
    }

    /// Explains `principal` under `configuration`. Pipelines it may not view are left out.
    static func make(
        _ principal: Principal, _ configuration: Configuration, identityLimiter: RateLimiter? = nil
    ) -> Explanation {
        let subject = self.subject(of: principal)
        let policy = configuration.policy
        let roles = policy.roles(of: subject).map { RoleMembership(name: $0.name, via: policy.membership(of: subject, in: $0) ?? "") }
        let instance = Verb.instanceVerbs.compactMap { verb -> Permission? in
            guard case .allow(let role, let index) = policy.decideOnInstance(subject, verb) else { return nil }
            return Permission(verb: verb.rawValue, grant: "roles.\(role).grants[\(index)]")
        }
        let pipelines = configuration.pipelineNames.compactMap { name -> PipelineAccess? in
            let verbs = Verb.pipelineVerbs.compactMap { verb -> Permission? in
                guard case .allow(let role, let index) = policy.decide(subject, verb, pipeline: name) else { return nil }
                return Permission(verb: verb.rawValue, grant: "roles.\(role).grants[\(index)]")
            }
            return verbs.contains { $0.verb == Verb.view.rawValue } ? PipelineAccess(name: name, verbs: verbs) : nil
        }
        let upstreams = configuration.upstreams.map { settings -> PipelineAccess in
            let name = settings.upstream.name
            let verbs = Verb.upstreamVerbs.compactMap { verb -> Permission? in
                guard case .allow(let role, let index) = policy.decideOnUpstream(subject, verb, upstream: name) else { return nil }
                return Permission(verb: verb.rawValue, grant: "roles.\(role).grants[\(index)]")
            }
            return PipelineAccess(name: name, verbs: verbs)
        }
        var limits: [LimitInfo] = []
        if let l = configuration.triggerLimitPerIdentity {
            let key = "\(principal.source.rawValue):\(principal.user)"
            limits.append(
                LimitInfo(
                    name: "trigger_per_identity", per_minute: Int(l.perMinute), burst: Int(l.burst),
                    available: identityLimiter?.available(key)))
        }
        if let l = configuration.triggerLimitPerPipeline {
            limits.append(LimitInfo(name: "trigger_per_pipeline", per_minute: Int(l.perMinute), burst: Int(l.burst), available: nil))
        }
        return Explanation(
            user: principal.user, source: principal.source.rawValue, source_name: principal.sourceName, groups: principal.groups.sorted(),
            roles: roles, instance: instance, pipelines: pipelines, upstreams: upstreams, config_hash: configuration.hash, limits: limits)
    }

    /// The view model of the HTML page.
    var page: WhoAmIView {
        var view = WhoAmIView(
            user: self.user, source: self.source_name.map { "\(self.source) (\($0))" } ?? self.source, groups: self.groups,
            roles: self.roles.map { ($0.name, $0.via) }, pipelines: self.pipelines.map { ($0.name, $0.verbs.map { ($0.verb, $0.grant) }) },
            instance: self.instance.map { ($0.verb, $0.grant) }, configHash: self.config_hash,
            limits: self.limits.map { l in
                "\(l.name): \(l.per_minute) per minute, burst \(l.burst)" + (l.available.map { ", \($0) available now" } ?? "")
            })
        view.upstreams = self.upstreams.map { ($0.name, $0.verbs.map { ($0.verb, $0.grant) }) }
        return view
    }

    /// Plain text for the command line.
    var text: String {
        var out =
            "user:    \(self.user)\nsource:  \(self.page.source)\ngroups:  \(self.groups.isEmpty ? "(none)" : self.groups.joined(separator: ", "))\n"
        out += "roles:   \(self.roles.isEmpty ? "(none)" : self.roles.map { "\($0.name) (\($0.via))" }.joined(separator: ", "))\n"
        out += "config:  sha256 \(self.config_hash)\n"
        for l in self.limits { out += "limit:   \(l.name): \(l.per_minute) per minute, burst \(l.burst)\n" }
        if !self.instance.isEmpty {
            out += "this Sluice instance:\n"
            for v in self.instance { out += "  \(v.verb.padding(toLength: 8, withPad: " ", startingAt: 0)) by \(v.grant)\n" }
        }
        for u in self.upstreams {
            out += "upstream \(u.name):\(u.verbs.isEmpty ? " nothing" : "")\n"
            for v in u.verbs { out += "  \(v.verb.padding(toLength: 8, withPad: " ", startingAt: 0)) by \(v.grant)\n" }
        }
        if self.pipelines.isEmpty { out += "pipelines: none visible\n" }
        for p in self.pipelines {
            out += "pipeline \(p.name):\n"
            for v in p.verbs { out += "  \(v.verb.padding(toLength: 8, withPad: " ", startingAt: 0)) by \(v.grant)\n" }
        }
        return out
    }
}
