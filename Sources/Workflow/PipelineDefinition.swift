public import JobStore

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
    /// Most jobs of this pipeline running at once; nil: no limit of its own.
    public var concurrency: Int?
    /// Most jobs waiting to start beyond those running (429 when full); nil: unbounded.
    public var queueLimit: Int?
    /// What a trigger does when an unfinished job has the same identity.
    public var onDuplicate: DuplicatePolicy
    /// When the pipeline triggers itself, by name order.
    public var schedules: [PipelineSchedule]
    /// What its jobs trigger when they end (`on_success`, then `on_failure`).
    public var chains: [PipelineChain] = []
    /// Which webhooks are told about its jobs (`notify`).
    public var notifications: [PipelineNotification] = []
    /// Whether its jobs wait for approvers before they run (`approval`).
    public var approval: PipelineApproval? = nil

    /// Creates a definition.
    public init(
        name: String, description: String = "", parameters: [ParameterSpec] = [], tasks: [TaskDefinition], concurrency: Int? = nil,
        queueLimit: Int? = nil, onDuplicate: DuplicatePolicy = .allow, schedules: [PipelineSchedule] = []
    ) {
        self.schedules = schedules
        self.concurrency = concurrency
        self.queueLimit = queueLimit
        self.onDuplicate = onDuplicate
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
    /// A secret: never stored, logged or shown; reaches tasks only as `SLUICE_PARAM_<NAME>`.
    public var isSecret: Bool
    /// Whether the value is part of the job's identity (for `on_duplicate`); secrets never are.
    public var isSignificant: Bool
    /// For string parameters: a pattern the whole value must match.
    public var pattern: ParameterPattern?

    /// Creates a spec.
    public init(
        name: String, isRequired: Bool = false, defaultValue: String? = nil, description: String = "",
        type: ParameterType = .string(minLength: nil, maxLength: nil), isSecret: Bool = false, isSignificant: Bool = true,
        pattern: ParameterPattern? = nil
    ) {
        self.pattern = pattern
        self.isSecret = isSecret
        self.isSignificant = isSignificant && !isSecret
        self.name = name
        self.isRequired = isRequired
        self.defaultValue = defaultValue
        self.description = description
        self.type = type
    }
}

/// One task: a command (or nothing, for a `noop` join), the tasks that must succeed before it,
/// and how it runs.
public struct TaskDefinition: Sendable, Hashable {
    /// The task's name, unique in its pipeline (`[A-Za-z0-9._-]`, also used as its log file name).
    public var name: String
    /// The argv template; each element may hold `{param}` placeholders. Empty for `noop`.
    public var run: [ArgvTemplate]
    /// Names of tasks that must succeed first.
    public var needs: [String]
    /// A command or a `noop`.
    public var kind: TaskKind
    /// Retries with backoff.
    public var retry: RetryPolicy
    /// Seconds before the process is stopped; nil: no limit.
    public var timeout: Double?
    /// Extra environment variables; values are templates.
    public var environment: [String: ArgvTemplate]
    /// The working directory template; nil: the configuration file's directory.
    public var workingDirectory: ArgvTemplate?
    /// The output path template whose existence means the task is done.
    public var creates: ArgvTemplate?
    /// Named resources held while running.
    public var resources: [String: Int]

    /// Creates a task definition.
    public init(
        name: String, run: [ArgvTemplate], needs: [String] = [], kind: TaskKind = .command, retry: RetryPolicy = .none,
        timeout: Double? = nil, environment: [String: ArgvTemplate] = [:], workingDirectory: ArgvTemplate? = nil,
        creates: ArgvTemplate? = nil, resources: [String: Int] = [:]
    ) {
        self.name = name
        self.run = run
        self.needs = needs
        self.kind = kind
        self.retry = retry
        self.timeout = timeout
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.creates = creates
        self.resources = resources
    }

    /// Every template of the task with where it sits, for checks of the parameters they use.
    public var templates: [(path: String, template: ArgvTemplate)] {
        var all = self.run.enumerated().map { ("run[\($0.offset)]", $0.element) }
        for (key, value) in self.environment.sorted(by: { $0.key < $1.key }) { all.append(("env.\(key)", value)) }
        if let w = self.workingDirectory { all.append(("working_dir", w)) }
        if let c = self.creates { all.append(("creates", c)) }
        return all
    }
}
