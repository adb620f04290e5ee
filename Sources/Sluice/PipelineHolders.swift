import ByteStrings
import Identity
import Policy
import Workflow

/// Who may do what with one pipeline: for each verb, the roles whose grants allow it (with
/// their parameter limits), the users and groups holding those roles, and the service tokens
/// configured with them. The answer of `sluice explain --pipeline NAME`, for an auditor asking
/// "who can approve deploys?".
struct PipelineHolders {
    /// One role's hold on a verb.
    struct Holder {
        var role: String
        var grant: String
        var limits: [String]
        var users: [String]
        var groups: [String]
        var tokens: [String]
        var isDefault: Bool
    }

    var pipeline: String
    var approval: PipelineApproval?
    var verbs: [(verb: Verb, holders: [Holder])]

    /// The holders of every pipeline verb (or only `verb`) on `pipeline` under `configuration`.
    static func make(_ pipeline: PipelineDefinition, _ configuration: Configuration, verb: Verb? = nil) -> PipelineHolders {
        let policy = configuration.policy
        let verbs = verb.map { [$0] } ?? Verb.pipelineVerbs
        return PipelineHolders(
            pipeline: pipeline.name, approval: pipeline.approval,
            verbs: verbs.map { verb in
                let holders = policy.roles.compactMap { role -> Holder? in
                    guard let index = role.grants.firstIndex(where: { $0.allows(verb, on: pipeline.name) }) else { return nil }
                    let grant = role.grants[index]
                    let isDefault = policy.defaultRole.map { role.name.utf8.elementsEqual($0.utf8) } ?? false
                    let tokens = configuration.identity.serviceTokens.filter { token in
                        token.roles.contains { $0.utf8.elementsEqual(role.name.utf8) }
                    }.map(\.name).sorted()
                    return Holder(
                        role: role.name, grant: "roles.\(role.name).grants[\(index)]",
                        limits: grant.parameters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" },
                        users: role.users.map(\.string).sorted(), groups: role.groups.map(\.string).sorted(), tokens: tokens,
                        isDefault: isDefault)
                }
                return (verb, holders)
            })
    }

    /// As `sluice explain --pipeline` prints it.
    var text: String {
        var out = "pipeline \(self.pipeline):\n"
        if let approval = self.approval {
            let who = approval.required == 1 ? "1 approval" : "\(approval.required) approvals by different people"
            out +=
                "  approval: \(who) within \(Int(approval.expireAfter / 60)) minutes; the one who triggered a job may not approve it\n"
        }
        for (verb, holders) in self.verbs {
            out += "  \(verb.rawValue):\(holders.isEmpty ? " nobody" : "")\n"
            for h in holders {
                var who: [String] = []
                if h.isDefault { who.append("everyone identified (default role)") }
                if !h.users.isEmpty { who.append("users \(h.users.joined(separator: ", "))") }
                if !h.groups.isEmpty { who.append("groups \(h.groups.joined(separator: ", "))") }
                // Service tokens approve only through their own roles (Subject.approvesOnlyThroughAssignedRoles).
                if !h.tokens.isEmpty { who.append("service tokens \(h.tokens.joined(separator: ", "))") }
                out += "    role \(h.role) (\(h.grant))\(h.limits.isEmpty ? "" : ", only with \(h.limits.joined(separator: " and "))"): "
                out += (who.isEmpty ? "nobody holds it" : who.joined(separator: "; ")) + "\n"
            }
        }
        return out
    }
}
