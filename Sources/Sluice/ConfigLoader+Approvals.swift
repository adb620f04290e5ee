import JSON
import Policy
import Workflow

extension ConfigLoader {
    /// Reads a pipeline's `approval: { required, expire_after_minutes }` (absent: jobs run
    /// without approval).
    static func readApproval(_ r: inout ConfigReader, path: String, problems: ProblemList) -> PipelineApproval? {
        guard let value = r.value("approval") else { return nil }
        var a = ConfigReader(value, path: "\(path).approval", problems: problems)
        let required = a.int("required", in: 1...10) ?? 1
        let minutes = a.int("expire_after_minutes", in: 1...(60 * 24 * 90)) ?? Int(PipelineApproval.defaultExpireAfter / 60)
        a.finish()
        return PipelineApproval(required: required, expireAfter: Double(minutes) * 60)
    }

    /// Checks that some role may approve each pipeline that needs approval: otherwise its jobs
    /// could only expire.
    static func checkApprovals(_ pipelines: [String: PipelineDefinition], policy: Policy, problems: ProblemList) {
        for name in pipelines.keys.sorted() where pipelines[name]!.approval != nil {
            let approvable = policy.roles.contains { role in role.grants.contains { $0.allows(.approve, on: name, parameters: nil) } }
            if !approvable {
                problems.add(
                    "pipelines.\(name).approval", "no role grants approve on \(name): its jobs could only expire (add approve to a grant)")
            }
        }
    }
}
