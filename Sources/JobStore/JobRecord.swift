public import Foundation

/// A job as stored: who started which pipeline with which parameters, and its tasks.
public struct JobRecord: Sendable, Hashable {
    /// The job id (increasing).
    public var id: Int64
    /// The pipeline's name.
    public var pipeline: String
    /// The job's state.
    public var state: JobState
    /// The user who triggered it.
    public var triggeredBy: String
    /// The identity source that vouched for `triggeredBy` (e.g. `remote_user`).
    public var identitySource: String
    /// The parameters, after defaults were applied.
    public var params: [String: String]
    /// The directory tasks run in.
    public var workingDirectory: String
    /// Whether cancellation was requested (the runner acts on it).
    public var cancelRequested: Bool
    /// When the trigger was accepted.
    public var createdAt: Date
    /// When the first task started.
    public var startedAt: Date?
    /// When the job reached a terminal state.
    public var finishedAt: Date?
    /// The tasks in definition order; empty when loaded as a summary.
    public var tasks: [TaskRecord]
    /// The job's identity for deduplication: the pipeline plus its canonical significant
    /// parameters (empty for jobs created before identities existed).
    public var identity: String
    /// Whether the job waits until no earlier unfinished job has the same identity
    /// (`on_duplicate: queue`).
    public var waitsForIdentity: Bool
    /// Names of secret parameters the trigger supplied; their values are never stored.
    public var secretParameters: [String]
    /// What the job needed from approvers, if its pipeline required approval when it was
    /// triggered (kept after the job has gone on or ended).
    public var approval: ApprovalRequirement? = nil
    /// The approvers' decisions, oldest first: read by `job(id:)` only (lists leave it empty).
    public var approvals: [ApprovalDecision] = []

    /// Creates a record.
    public init(
        id: Int64, pipeline: String, state: JobState, triggeredBy: String, identitySource: String,
        params: [String: String], workingDirectory: String, cancelRequested: Bool, createdAt: Date,
        startedAt: Date?, finishedAt: Date?, tasks: [TaskRecord], identity: String = "", waitsForIdentity: Bool = false,
        secretParameters: [String] = [], approval: ApprovalRequirement? = nil
    ) {
        self.approval = approval
        self.identity = identity
        self.waitsForIdentity = waitsForIdentity
        self.secretParameters = secretParameters
        self.id = id
        self.pipeline = pipeline
        self.state = state
        self.triggeredBy = triggeredBy
        self.identitySource = identitySource
        self.params = params
        self.workingDirectory = workingDirectory
        self.cancelRequested = cancelRequested
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.tasks = tasks
    }
}

extension JobRecord {
    /// The record of `job` as a store has just inserted it with `id` at `createdAt`: queued (or
    /// awaiting approval, if `job.approval` is set), no
    /// cancel request, every task queued with no attempt yet. Every store answers a created job
    /// with this (built from what was inserted, not read back: for a job of 100,000 tasks the
    /// read-back costs as much as the insert), with the creation time as stored.
    public init(inserted job: NewJob, id: Int64, createdAt: Date, waitsForIdentity: Bool) {
        self.init(
            id: id, pipeline: job.pipeline, state: .queued, triggeredBy: job.triggeredBy, identitySource: job.identitySource,
            params: job.params, workingDirectory: job.workingDirectory, cancelRequested: false,
            createdAt: StoredTime.rounded(createdAt), startedAt: nil, finishedAt: nil,
            tasks: job.tasks.map {
                TaskRecord(name: $0.name, needs: $0.needs, argv: $0.argv, kind: $0.kind, options: $0.options, layer: $0.layer)
            },
            identity: job.identity, waitsForIdentity: waitsForIdentity, secretParameters: job.secretParameters)
        if let approval = job.approval {
            self.state = .awaitingApproval
            self.approval = approval
        }
    }
}

/// A task of a job as stored.
public struct TaskRecord: Sendable, Hashable {
    /// The task's name, unique within the job.
    public var name: String
    /// Names of tasks that must succeed first.
    public var needs: [String]
    /// The argv to execute, with parameters already substituted.
    public var argv: [String]
    /// The task's state.
    public var state: TaskState
    /// How many times a process was started for it.
    public var attempt: Int
    /// The pid (and process-group id) of the running or last process.
    public var pid: Int32?
    /// The exit status, or 128 + signal number when killed by a signal.
    public var exitCode: Int32?
    /// A short human-readable note (e.g. why it failed to start, or "killed by SIGTERM").
    public var message: String?
    /// When its process started.
    public var startedAt: Date?
    /// When it reached a terminal state.
    public var finishedAt: Date?
    /// Whether it runs a process or nothing.
    public var kind: TaskKind
    /// Retries, timeout, environment, working directory, expected output, resources.
    public var options: TaskOptions
    /// For a queued task waiting to be retried: when the next attempt may start.
    public var retryAt: Date?
    /// The attempts before the latest, oldest first (the latest is described by the fields above).
    public var pastAttempts: [PastAttempt]
    /// The task's layer in the job's graph (counted from 0: its longest chain of needs), given
    /// when a large job is created so its page can be summarised by the store (`JobOverview`);
    /// nil for other jobs.
    public var layer: Int?

    /// Creates a record.
    public init(
        name: String, needs: [String], argv: [String], state: TaskState = .queued, attempt: Int = 0,
        pid: Int32? = nil, exitCode: Int32? = nil, message: String? = nil, startedAt: Date? = nil,
        finishedAt: Date? = nil, kind: TaskKind = .command, options: TaskOptions = .standard, retryAt: Date? = nil,
        pastAttempts: [PastAttempt] = [], layer: Int? = nil
    ) {
        self.layer = layer
        self.pastAttempts = pastAttempts
        self.kind = kind
        self.options = options
        self.retryAt = retryAt
        self.name = name
        self.needs = needs
        self.argv = argv
        self.state = state
        self.attempt = attempt
        self.pid = pid
        self.exitCode = exitCode
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// A job to create: everything but the id and timestamps.
public struct NewJob: Sendable {
    /// The pipeline's name.
    public var pipeline: String
    /// The user who triggers it.
    public var triggeredBy: String
    /// The identity source.
    public var identitySource: String
    /// Parameters after validation and defaults.
    public var params: [String: String]
    /// The directory tasks run in.
    public var workingDirectory: String
    /// Tasks with their resolved argv, in definition order.
    public var tasks: [TaskRecord]
    /// The deduplication identity (see `JobRecord.identity`).
    public var identity: String
    /// Names of secret parameters supplied (values are never stored).
    public var secretParameters: [String]
    /// The caller's `Idempotency-Key`, if any, scoped to the caller.
    public var idempotencyKey: String?
    /// A digest of what the request asked for, compared when an idempotency key is reused.
    public var requestDigest: String?

    /// On a store several hosts share: the host that must run the job, because only it holds
    /// the values of its secret parameters (they are never stored). Other hosts claim it only once
    /// that host's lease has ended (it then fails as unable to resume). Nil: any host.
    public var hostAffinity: String?

    /// If set, the job waits for approvers (`awaiting_approval`) before it may run.
    public var approval: ApprovalRequirement? = nil

    /// Creates a new job description.
    public init(
        pipeline: String, triggeredBy: String, identitySource: String, params: [String: String], workingDirectory: String,
        tasks: [TaskRecord], identity: String = "", secretParameters: [String] = [], idempotencyKey: String? = nil,
        requestDigest: String? = nil, hostAffinity: String? = nil
    ) {
        self.hostAffinity = hostAffinity
        self.identity = identity
        self.secretParameters = secretParameters
        self.idempotencyKey = idempotencyKey
        self.requestDigest = requestDigest
        self.pipeline = pipeline
        self.triggeredBy = triggeredBy
        self.identitySource = identitySource
        self.params = params
        self.workingDirectory = workingDirectory
        self.tasks = tasks
    }
}

/// A change to one task, recorded by the runner.
public struct TaskChange: Sendable, Hashable {
    /// The task's name.
    public var task: String
    /// Its new state.
    public var state: TaskState
    /// The process id, when starting.
    public var pid: Int32?
    /// The exit code, when finishing.
    public var exitCode: Int32?
    /// A note for people.
    public var message: String?
    /// For a task queued again after a failure: when its next attempt may start.
    public var retryAt: Date?
    /// When the attempt really ended, if known and not "now": an outcome a task's supervisor
    /// recorded while Sluice was down keeps its own finish time.
    public var finishedAt: Date?

    /// Creates a change.
    public init(
        task: String, state: TaskState, pid: Int32? = nil, exitCode: Int32? = nil, message: String? = nil, retryAt: Date? = nil,
        finishedAt: Date? = nil
    ) {
        self.retryAt = retryAt
        self.finishedAt = finishedAt
        self.task = task
        self.state = state
        self.pid = pid
        self.exitCode = exitCode
        self.message = message
    }
}

/// Which jobs to list.
public struct JobQuery: Sendable {
    /// Only jobs of these pipelines (nil: all).
    public var pipelines: Set<String>?
    /// Only jobs with an id below this (cursor for paging).
    public var beforeID: Int64?
    /// At most this many, newest first.
    public var limit: Int
    /// Only jobs with one of these ids (nil: any).
    public var ids: [Int64]?
    /// Only jobs that finished before this time.
    public var finishedBefore: Date?
    /// Only jobs in one of these states (nil: any).
    public var states: Set<JobState>?
    /// Only jobs triggered by this user.
    public var triggeredBy: String?
    /// Only jobs created at or after this time.
    public var createdFrom: Date?
    /// Only jobs created before this time.
    public var createdUntil: Date?
    /// Only jobs with an id above this (cursor for paging oldest first).
    public var afterID: Int64?
    /// Oldest first instead of newest first.
    public var oldestFirst = false

    /// The most jobs one query returns, whatever its `limit`.
    public static let maxLimit = 1000

    /// `limit` as a store applies it: between 0 and `maxLimit`.
    public var clampedLimit: Int { max(0, min(self.limit, Self.maxLimit)) }

    /// Whether an empty set of pipelines, ids or states makes the query match no job (a store
    /// answers `[]` without asking its database).
    public var matchesNothing: Bool {
        self.pipelines?.isEmpty == true || self.ids?.isEmpty == true || self.states?.isEmpty == true
    }

    /// Creates a query.
    public init(pipelines: Set<String>? = nil, beforeID: Int64? = nil, limit: Int = 50, ids: [Int64]? = nil, finishedBefore: Date? = nil) {
        self.ids = ids
        self.finishedBefore = finishedBefore
        self.pipelines = pipelines
        self.beforeID = beforeID
        self.limit = limit
    }
}
