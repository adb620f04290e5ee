public import JobStore

extension PipelineDefinition {
    /// The job's tasks with every template rendered from `values` (validated, non-secret
    /// parameters), in definition order: what is stored and later run.
    public func resolvedTasks(_ values: [String: String]) -> [TaskRecord] {
        self.tasks.map { task in
            var environment: [String: String] = [:]
            for (key, template) in task.environment { environment[key] = template.render(values) }
            let options = TaskOptions(
                retry: task.retry, timeout: task.timeout, environment: environment, workingDirectory: task.workingDirectory?.render(values),
                creates: task.creates?.render(values), resources: task.resources)
            return TaskRecord(
                name: task.name, needs: task.needs, argv: task.run.map { $0.render(values) }, kind: task.kind, options: options)
        }
    }

    /// The job identity for `on_duplicate`: the pipeline and its significant parameters in
    /// canonical form, as one unambiguous string (names sorted; lengths prefixed, so no value can
    /// imitate a separator).
    public func identity(_ values: [String: String]) -> String {
        self.canonicalText(values, only: Set(self.parameters.filter(\.isSignificant).map(\.name)))
    }

    /// What an `Idempotency-Key` is bound to: the pipeline and every stored parameter (significant
    /// or not), in the same unambiguous form as `identity`.
    public func requestText(_ values: [String: String]) -> String {
        self.canonicalText(values, only: Set(self.parameters.filter { !$0.isSecret }.map(\.name)))
    }

    private func canonicalText(_ values: [String: String], only names: Set<String>) -> String {
        var text = "\(self.name.utf8.count):\(self.name)"
        for name in values.keys.sorted() where names.contains(name) {
            let value = values[name]!
            text += ";\(name.utf8.count):\(name)=\(value.utf8.count):\(value)"
        }
        return text
    }

    /// Splits resolved values into those that may be stored and the secret ones.
    public func separateSecrets(_ values: [String: String]) -> (stored: [String: String], secret: [String: String]) {
        let secrets = Set(self.parameters.filter(\.isSecret).map(\.name))
        var stored: [String: String] = [:]
        var secret: [String: String] = [:]
        for (name, value) in values {
            if secrets.contains(name) { secret[name] = value } else { stored[name] = value }
        }
        return (stored, secret)
    }
}
