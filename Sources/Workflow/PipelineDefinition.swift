/// A pipeline as configured: parameters and a graph of tasks.
public struct PipelineDefinition: Sendable, Hashable {
    /// The pipeline's name (unique, `[A-Za-z0-9._-]`).
    public var name: String
    /// What it does, for people.
    public var description: String
    /// Declared parameters, in configuration order.
    public var parameters: [ParameterSpec]
    /// Tasks, in configuration order.
    public var tasks: [TaskDefinition]

    /// Creates a definition.
    public init(name: String, description: String = "", parameters: [ParameterSpec] = [], tasks: [TaskDefinition]) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.tasks = tasks
    }
}

/// A declared pipeline parameter. Values travel as strings, checked and canonicalised by `type`.
public struct ParameterSpec: Sendable, Hashable {
    /// The name, `[a-z_][a-z0-9_]*` (it also becomes `SLUICE_PARAM_<NAME>`).
    public var name: String
    /// Whether a trigger must supply it (ignored when there is a default).
    public var isRequired: Bool
    /// The value used when the trigger omits it.
    public var defaultValue: String?
    /// Help text.
    public var description: String
    /// The type that values must have.
    public var type: ParameterType

    /// Creates a spec.
    public init(
        name: String, isRequired: Bool = false, defaultValue: String? = nil, description: String = "",
        type: ParameterType = .string(minLength: nil, maxLength: nil)
    ) {
        self.name = name
        self.isRequired = isRequired
        self.defaultValue = defaultValue
        self.description = description
        self.type = type
    }
}

/// One task: a command and the tasks that must succeed before it.
public struct TaskDefinition: Sendable, Hashable {
    /// The task's name, unique in its pipeline (`[A-Za-z0-9._-]`, also used as its log file name).
    public var name: String
    /// The argv template; each element may hold `{param}` placeholders.
    public var run: [ArgvTemplate]
    /// Names of tasks that must succeed first.
    public var needs: [String]

    /// Creates a task definition.
    public init(name: String, run: [ArgvTemplate], needs: [String] = []) {
        self.name = name
        self.run = run
        self.needs = needs
    }
}
