/// Something a caller may do: with a pipeline and its jobs, (`admin`) with the Sluice instance
/// itself, or (`view`, `operate`) with a guarded upstream that Sluice authorises for lighttpd.
public enum Verb: String, CaseIterable, Sendable, Hashable, Codable {
    /// See the pipeline and its jobs (without it, the pipeline is invisible: 404).
    case view
    /// Start a job.
    case trigger
    /// Cancel a queued or running job.
    case cancel
    /// Retry a failed or cancelled job from the tasks that did not succeed.
    case retry
    /// Read task logs.
    case logs
    /// Approve or reject a job that waits for approvers (a pipeline with `approval`). Nobody may
    /// approve a job they triggered; a service token only through the roles configured for it.
    case approve
    /// Read the audit log: records about the pipelines granted (and, when granted on `*`,
    /// records about no pipeline: authentication failures, configuration reloads).
    case audit
    /// Operate the Sluice instance: drain it (no new job starts), resume it, let it exit once
    /// drained. Not about any pipeline: it is granted only by a grant on `pipelines: ["*"]`
    /// (see `Grant.coversInstance`), never applies to a pipeline, and is a denial-of-service
    /// lever, hence a verb of its own that nobody holds unless configured.
    case admin
    /// Change the state of a guarded upstream (Luigi's `forgive_failures`, `mark_as_done`, ...),
    /// as the upstream's rules map requests to verbs. Only about upstreams: granted by a grant's
    /// `upstreams`, never by its `pipelines`.
    case operate

    /// Whether the verb is about the Sluice instance rather than about a pipeline.
    public var isAboutInstance: Bool { self == .admin }

    /// Whether the verb can be used on a pipeline and its jobs.
    public var appliesToPipelines: Bool { !self.isAboutInstance && self != .operate }

    /// Whether the verb can be used on a guarded upstream (`view` and `operate`).
    public var appliesToUpstreams: Bool { self == .view || self == .operate }

    /// The verbs about pipelines and their jobs, in declaration order.
    public static let pipelineVerbs: [Verb] = Verb.allCases.filter(\.appliesToPipelines)

    /// The verbs about guarded upstreams, in declaration order.
    public static let upstreamVerbs: [Verb] = Verb.allCases.filter(\.appliesToUpstreams)

    /// The verbs about the Sluice instance, in declaration order.
    public static let instanceVerbs: [Verb] = Verb.allCases.filter(\.isAboutInstance)
}
