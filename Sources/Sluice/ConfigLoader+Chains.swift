import ByteStrings
import JSON
import JobStore
import Policy
import Scheduling
import Workflow

extension ConfigLoader {
    /// Reads a pipeline's `on_success` and `on_failure`: arrays of `{ trigger, params, roles }`.
    /// What needs the other pipelines and the roles is checked by `checkChains`.
    static func readChains(_ r: inout ConfigReader, path: String, problems: ProblemList) -> [PipelineChain] {
        var chains: [PipelineChain] = []
        for (key, state) in [("on_success", JobState.succeeded), ("on_failure", JobState.failed)] {
            guard let entries = r.array(key) else { continue }
            for (index, entry) in entries.enumerated() {
                let p = "\(path).\(key)[\(index)]"
                var e = ConfigReader(entry, path: p, problems: problems)
                let trigger = e.string("trigger")
                if trigger == nil { problems.add("\(p).trigger", "required: the pipeline to trigger") }
                var params: [ChainParameter] = []
                var reader = ConfigReader(e.value("params"), path: "\(p).params", problems: problems)
                for name in reader.keys {
                    guard let text = reader.string(name) else { continue }
                    do { params.append(ChainParameter(name: name, value: try ChainTemplate(text))) } catch {
                        problems.add("\(p).params.\(name)", error.message)
                    }
                }
                reader.finish()
                let roles = e.strings("roles") ?? []
                if roles.isEmpty {
                    problems.add("\(p).roles", "required: the roles the chain triggers with (they need trigger on its pipeline)")
                }
                e.finish()
                if let trigger { chains.append(PipelineChain(on: state, trigger: trigger, params: params, roles: roles, index: index)) }
            }
        }
        return chains
    }

    /// Checks every chain against the other pipelines and the roles: the target exists, its
    /// parameters are declared and not secret, `{param.NAME}` names a stored parameter of the
    /// source, the roles exist and grant `trigger` on the target, and no chain leads back to
    /// where it started. Names are compared as bytes.
    static func checkChains(_ pipelines: [String: PipelineDefinition], policy: Policy, problems: ProblemList) {
        let byName = Dictionary(pipelines.values.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        for name in pipelines.keys.sorted() {
            let source = pipelines[name]!
            for chain in source.chains {
                let p = "pipelines.\(name).\(chain.on == .succeeded ? "on_success" : "on_failure")[\(chain.index)]"
                guard let target = byName[ByteString(chain.trigger)] else {
                    problems.add("\(p).trigger", "no pipeline is named \(chain.trigger)")
                    continue
                }
                let declared = Dictionary(target.parameters.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
                let sourceParams = Dictionary(source.parameters.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
                for param in chain.params {
                    guard let spec = declared[ByteString(param.name)] else {
                        problems.add("\(p).params.\(param.name)", "not a parameter of \(target.name)")
                        continue
                    }
                    if spec.isSecret { problems.add("\(p).params.\(param.name)", "a secret parameter cannot come from a chain") }
                    for used in param.value.parameterNames {
                        if let from = sourceParams[ByteString(used)], !from.isSecret { continue }
                        problems.add("\(p).params.\(param.name)", "{param.\(used)}: \(name) has no stored parameter \(used)")
                    }
                }
                // Required parameters of the target without a default must be given.
                for spec in target.parameters where spec.isRequired && spec.defaultValue == nil {
                    if !chain.params.contains(where: { $0.name.utf8.elementsEqual(spec.name.utf8) }) {
                        problems.add("\(p).params", "\(target.name) requires \(spec.name)")
                    }
                }
                let known = Set(policy.roles.map { ByteString($0.name) })
                for role in chain.roles where !known.contains(ByteString(role)) {
                    problems.add("\(p).roles", "no role is named \(role)")
                }
                let (subject, scoped) = ChainDispatcher.authority(of: chain, principal: PipelineChain.principal(of: name), in: policy)
                if case .deny = scoped.decide(subject, .trigger, pipeline: target.name) {
                    problems.add("\(p).roles", "\(chain.roles.joined(separator: ", ")) may not trigger \(target.name)")
                }
            }
        }
        // A cycle would trigger forever: refuse any path from a pipeline back to itself.
        var state: [ByteString: UInt8] = [:]  // 1: on the path, 2: done
        func visit(_ name: ByteString, _ path: [String]) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1 { return path }
            state[name] = 1
            for chain in byName[name]?.chains ?? [] where byName[ByteString(chain.trigger)] != nil {
                if let cycle = visit(ByteString(chain.trigger), path + [chain.trigger]) { return cycle }
            }
            state[name] = 2
            return nil
        }
        for name in pipelines.keys.sorted() {
            if let cycle = visit(ByteString(name), [name]) {
                problems.add("pipelines.\(name)", "on_success/on_failure form a cycle: \(cycle.joined(separator: " → "))")
                return
            }
        }
    }
}
