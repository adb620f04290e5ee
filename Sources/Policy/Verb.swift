/// Something a caller may do: with a pipeline and its jobs, or (`admin`) with the Sluice
/// instance itself.
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
    /// Read the audit log: records about the pipelines granted (and, when granted on `*`,
    /// records about no pipeline: authentication failures, configuration reloads).
    case audit
    /// Operate the Sluice instance: drain it (no new job starts), resume it, let it exit once
    /// drained. Not about any pipeline: it is granted only by a grant on `pipelines: ["*"]`
    /// (see `Grant.coversInstance`), never applies to a pipeline, and is a denial-of-service
    /// lever, hence a verb of its own that nobody holds unless configured.
    case admin

    /// Whether the verb is about the Sluice instance rather than about a pipeline.
    public var isAboutInstance: Bool { self == .admin }

    /// The verbs about pipelines and their jobs, in declaration order.
    public static let pipelineVerbs: [Verb] = Verb.allCases.filter { !$0.isAboutInstance }

    /// The verbs about the Sluice instance, in declaration order.
    public static let instanceVerbs: [Verb] = Verb.allCases.filter(\.isAboutInstance)
}
