/// Something a caller may do with a pipeline and its jobs.
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
}
