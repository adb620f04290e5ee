import ByteStrings

/// A problem found in a pipeline definition, located by its key path in the configuration.
public struct DefinitionProblem: Sendable, Hashable, CustomStringConvertible {
    /// The key path, e.g. `pipelines.etl.tasks.load.needs[0]`.
    public var path: String
    /// What is wrong.
    public var message: String

    /// Creates a problem.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(self.path): \(self.message)" }
}

extension PipelineDefinition {
    /// Checks the task graph and parameter use: unknown `needs`, self-dependencies, cycles,
    /// parameters used but not declared, and an empty task list.
    public func problems() -> [DefinitionProblem] {
        let base = "pipelines.\(self.name)"
        var problems: [DefinitionProblem] = []
        if self.tasks.isEmpty { problems.append(.init(path: "\(base).tasks", message: "a pipeline needs at least one task")) }
        // Sets of ByteString: names compare as bytes, never by canonical equivalence.
        let names = Set(self.tasks.map { ByteString($0.name) })
        let declared = Set(self.parameters.map { ByteString($0.name) })
        for task in self.tasks {
            let path = "\(base).tasks.\(task.name)"
            for (i, need) in task.needs.enumerated() {
                if need.bytesEqual(task.name) {
                    problems.append(.init(path: "\(path).needs[\(i)]", message: "a task cannot need itself"))
                } else if !names.contains(ByteString(need)) {
                    let hint = NearestName.suggestion(for: need, among: self.tasks.map(\.name)).map { "; did you mean \"\($0)\"?" } ?? ""
                    problems.append(.init(path: "\(path).needs[\(i)]", message: "unknown task \"\(need)\"\(hint)"))
                }
            }
            let secrets = Set(self.parameters.filter(\.isSecret).map { ByteString($0.name) })
            for (where_, template) in task.templates {
                for name in template.parameterNames {
                    if !declared.contains(ByteString(name)) {
                        problems.append(
                            .init(path: "\(path).\(where_)", message: "uses parameter {\(name)}, which is not declared in \(base).params"))
                    } else if secrets.contains(ByteString(name)) {
                        problems.append(
                            .init(
                                path: "\(path).\(where_)",
                                message: "uses secret parameter {\(name)}; secrets reach tasks only as $SLUICE_PARAM_\(name.uppercased())"))
                    }
                }
            }
            if task.kind == .noop
                && (!task.run.isEmpty || task.creates != nil || task.timeout != nil || task.retry.retries > 0 || !task.environment.isEmpty
                    || task.workingDirectory != nil || !task.resources.isEmpty)
            {
                problems.append(
                    .init(
                        path: path,
                        message:
                            "a noop task runs nothing: it takes no run, creates, timeout_seconds, retries, env, working_dir or resources"))
            }
        }
        if let cycle = self.cycle() {
            problems.append(
                .init(path: "\(base).tasks", message: "dependency cycle (each needs the next): \(cycle.joined(separator: " → "))"))
        }
        return problems
    }

    /// One dependency cycle (first task repeated at the end), or nil if the graph is acyclic.
    /// Iterative depth-first search, so deep graphs cannot overflow the stack.
    public func cycle() -> [String]? {
        // Keyed by ByteString: names compare as bytes.
        let byName = Dictionary(self.tasks.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        enum Mark { case visiting, done }
        var marks: [ByteString: Mark] = [:]
        for root in self.tasks.map({ ByteString($0.name) }) where marks[root] == nil {
            var stack: [(name: ByteString, next: Int)] = [(root, 0)]
            marks[root] = .visiting
            while let top = stack.last {
                let needs = byName[top.name]?.needs ?? []
                if top.next < needs.count {
                    stack[stack.count - 1].next += 1
                    let child = ByteString(needs[top.next])
                    guard byName[child] != nil, child != top.name else { continue }
                    switch marks[child] {
                    case .visiting:
                        let start = stack.firstIndex { $0.name == child }!
                        return stack[start...].map(\.name.string) + [child.string]
                    case .done: continue
                    case nil:
                        marks[child] = .visiting
                        stack.append((child, 0))
                    }
                } else {
                    marks[top.name] = .done
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}
