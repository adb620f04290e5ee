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
    /// Jobs of it running now.
    public var running: Int = 0
    /// Jobs of it waiting to start.
    public var queued: Int = 0
    /// Whether the viewer may trigger it (a link to the trigger form).
    public var canTrigger: Bool = false

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
    /// `command` or `noop`.
    public var kind: String = "command"
    /// Attempts allowed (1 + retries).
    public var maxAttempts: Int = 1
    /// For a task waiting to be retried: when, formatted.
    public var retryAt: String? = nil

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
    /// The task table's rows: in definition order, or for a large job failed, running and queued
    /// first; at most `Pages.taskRowsShown` of them.
    public var tasks: [TaskRow]
    /// How many tasks the table covers (all the job's, or the `layerScope`'s), shown or not;
    /// nil: as many as `tasks`.
    public var taskCount: Int? = nil
    /// Whether the job is still going (the page refreshes itself).
    public var isLive: Bool
    /// Cancel / retry buttons the viewer may use.
    public var actions: [JobAction]
    /// Names of secret parameters (shown masked).
    public var secretParams: [String] = []
    /// The task graph as inline SVG (already safe HTML), or empty.
    public var graphSVG: String = ""
    /// The timeline strip as inline SVG (already safe HTML), or empty.
    public var timelineSVG: String = ""
    /// The job's JSON URL, followed live by the page script while the job runs.
    public var liveURL: String? = nil
    /// The failed tasks the page opens with (at most `Failure.shown`), and how many failed in all.
    public var failures: [Failure] = []
    /// How many tasks failed, including those not in `failures`.
    public var failedCount = 0
    /// When the page lists only some layers' tasks (`?layer=3`): which ("Layer 3 of 20"); the
    /// task table and the timeline then hold only those tasks.
    public var layerScope: String? = nil
    /// The approval section, for a job whose pipeline required approval.
    public var approval: ApprovalPanel? = nil

    /// A failed task as the top of the job page shows it.
    public struct Failure: Sendable, Hashable {
        /// The most failures shown in full; the rest are counted.
        public static let shown = 5
        /// The task.
        public var task: String
        /// Its message (`exited with status 1`, `timed out after 30 s`).
        public var message: String
        /// Its last attempt.
        public var attempt: Int
        /// The last lines of that attempt's log (raw: rendered with `TerminalText`), or nil
        /// when the viewer may not read logs or there is none.
        public var logTail: String?

        /// Where the task is in the graph: a fragment (`#job-graph-task-3`) or the job page
        /// listing its layer's tasks; nil for no link.
        public var graphHref: String? = nil

        /// Creates a failure.
        public init(task: String, message: String, attempt: Int, logTail: String?) {
            self.task = task
            self.message = message
            self.attempt = attempt
            self.logTail = logTail
        }
    }

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
            && a.failures == b.failures && a.failedCount == b.failedCount
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(self.job) }
}

/// The job list page: filters, one page of jobs, and the link to the next page.
public struct JobListView: Sendable, Hashable {
    /// The page title.
    public var title: String
    /// The jobs of this page.
    public var jobs: [JobRow]
    /// Pipelines the viewer may filter by.
    public var pipelines: [String]
    /// The filter values in force, by query name (`pipeline`, `state`, `user`, `from`, `until`, `sort`).
    public var filters: [String: String]
    /// The query string of the next page (already encoded), if there is one.
    public var nextQuery: String?

    /// Creates the model.
    public init(title: String, jobs: [JobRow], pipelines: [String], filters: [String: String], nextQuery: String?) {
        self.title = title
        self.jobs = jobs
        self.pipelines = pipelines
        self.filters = filters
        self.nextQuery = nextQuery
    }
}

/// The log page of one attempt of a task: a window of the log, links to the other attempts,
/// to the previous and next windows, and to the raw file.
public struct LogView: Sendable, Hashable {
    /// The job.
    public var jobID: Int64
    /// The task.
    public var task: String
    /// The attempt shown, and how many there are.
    public var attempt: Int
    /// How many attempts the task has made.
    public var attempts: Int
    /// The text of the window (decoded leniently; escaped and neutralised when rendered).
    public var text: String
    /// Byte offset where the window starts, and where the next one would start.
    public var offset: Int
    public var nextOffset: Int
    /// The log's size in bytes.
    public var size: Int
    /// The window size, for the previous/next links.
    public var window: Int
    /// Whether the task is still running (the page follows the log).
    public var isLive: Bool
    /// The number of the window's first line (1 at the start of the log).
    public var firstLine = 1
    /// Whether the page opens scrolled to the end (a running or failed attempt: what matters is
    /// at the end).
    public var opensAtEnd = false

    /// Creates the model.
    public init(
        jobID: Int64, task: String, attempt: Int, attempts: Int, text: String, offset: Int, nextOffset: Int, size: Int, window: Int,
        isLive: Bool
    ) {
        self.jobID = jobID
        self.task = task
        self.attempt = attempt
        self.attempts = attempts
        self.text = text
        self.offset = offset
        self.nextOffset = nextOffset
        self.size = size
        self.window = window
        self.isLive = isLive
    }
}
