/// A job as a row in a list.
public struct JobRow: Sendable, Hashable {
    /// Job id.
    public var id: Int64
    /// Pipeline name.
    public var pipeline: String
    /// State word.
    public var state: String
    /// Who triggered it.
    public var triggeredBy: String
    /// When it was created, already formatted.
    public var created: String
    /// How long it ran, already formatted (empty if it has not started).
    public var duration: String

    /// Creates a row.
    public init(id: Int64, pipeline: String, state: String, triggeredBy: String, created: String, duration: String) {
        self.id = id
        self.pipeline = pipeline
        self.state = state
        self.triggeredBy = triggeredBy
        self.created = created
        self.duration = duration
    }
}

/// A pipeline on the dashboard.
public struct PipelineRow: Sendable, Hashable {
    /// Pipeline name.
    public var name: String
    /// Description.
    public var description: String
    /// The state of its latest job, if any.
    public var lastState: String?
    /// The id of its latest job, if any.
    public var lastJobID: Int64?

    /// Creates a row.
    public init(name: String, description: String, lastState: String?, lastJobID: Int64?) {
        self.name = name
        self.description = description
        self.lastState = lastState
        self.lastJobID = lastJobID
    }
}

/// A task on the job page.
public struct TaskRow: Sendable, Hashable {
    /// Task name.
    public var name: String
    /// State word.
    public var state: String
    /// Names of tasks it needs.
    public var needs: [String]
    /// Attempts so far.
    public var attempt: Int
    /// Formatted duration, or empty.
    public var duration: String
    /// Exit code, if finished.
    public var exitCode: Int32?
    /// A note (why it failed, was skipped...).
    public var message: String?
    /// Whether the viewer may read its log.
    public var canReadLog: Bool

    /// Creates a row.
    public init(
        name: String, state: String, needs: [String], attempt: Int, duration: String, exitCode: Int32?, message: String?, canReadLog: Bool
    ) {
        self.name = name
        self.state = state
        self.needs = needs
        self.attempt = attempt
        self.duration = duration
        self.exitCode = exitCode
        self.message = message
        self.canReadLog = canReadLog
    }
}

/// Everything the job page shows.
public struct JobDetail: Sendable, Hashable {
    /// The job as a row (id, pipeline, state, who, when, duration).
    public var job: JobRow
    /// Identity source of the trigger.
    public var identitySource: String
    /// Parameters, sorted by name.
    public var params: [(name: String, value: String)]
    /// Started and finished times, formatted (empty if not yet).
    public var started: String
    /// Finished time, formatted (empty if not yet).
    public var finished: String
    /// Whether a cancel was requested.
    public var cancelRequested: Bool
    /// Tasks in definition order.
    public var tasks: [TaskRow]
    /// Whether the job is still going (the page refreshes itself).
    public var isLive: Bool
    /// Cancel / retry buttons the viewer may use.
    public var actions: [JobAction]

    /// Creates the model.
    public init(
        job: JobRow, identitySource: String, params: [(name: String, value: String)], started: String, finished: String,
        cancelRequested: Bool, tasks: [TaskRow], isLive: Bool, actions: [JobAction] = []
    ) {
        self.actions = actions
        self.job = job
        self.identitySource = identitySource
        self.params = params
        self.started = started
        self.finished = finished
        self.cancelRequested = cancelRequested
        self.tasks = tasks
        self.isLive = isLive
    }

    public static func == (a: JobDetail, b: JobDetail) -> Bool {
        a.job == b.job && a.tasks == b.tasks && a.params.map(\.name) == b.params.map(\.name)
            && a.params.map(\.value) == b.params.map(\.value)
            && a.started == b.started && a.finished == b.finished && a.isLive == b.isLive && a.identitySource == b.identitySource
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(self.job) }
}
