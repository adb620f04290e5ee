public import JobStore
public import Scheduling

/// What a pipeline triggers when one of its jobs ends (`on_success`, `on_failure`): another
/// pipeline, with parameters from the finished job, as a principal whose roles are configured
/// here and checked like anyone's.
public struct PipelineChain: Sendable, Hashable {
    /// The state of the finished job that triggers it: `succeeded` or `failed`.
    public var on: JobState
    /// The pipeline it triggers.
    public var trigger: String
    /// Parameter values for the triggered job, by name.
    public var params: [ChainParameter]
    /// The roles the chain acts with (as a service token's configured roles).
    public var roles: [String]
    /// Its place among the pipeline's chains for the same state (0, 1, ...): part of its
    /// idempotency key, so each chain of a job triggers once.
    public var index: Int

    /// Creates a chain.
    public init(on: JobState, trigger: String, params: [ChainParameter], roles: [String], index: Int) {
        self.on = on
        self.trigger = trigger
        self.params = params
        self.roles = roles
        self.index = index
    }

    /// The identity source of chained jobs.
    public static let identitySource = "chain"

    /// The principal a chained job of `pipeline` is triggered as.
    public static func principal(of pipeline: String) -> String { "chain:\(pipeline)" }

    /// The idempotency key of the job this chain triggers for the end of a job recorded as the
    /// job event `eventID`: each end of a job (a retried job may fail again) triggers it once.
    public func idempotencyKey(jobID: Int64, eventID: Int64) -> String { "chain:\(jobID):\(eventID):\(self.index)" }

    /// The parameter values for the job that follows `job`, which ended in `state`.
    public func values(after job: JobRecord, endedAs state: JobState) -> [String: String] {
        var ended = job
        ended.state = state
        var values: [String: String] = [:]
        for p in self.params { values[p.name] = p.value.render(ended) }
        return values
    }
}

/// One parameter value of a chained job: a `ChainTemplate`.
public struct ChainParameter: Sendable, Hashable {
    /// The triggered pipeline's parameter.
    public var name: String
    /// Its value.
    public var value: ChainTemplate

    /// Creates a parameter value.
    public init(name: String, value: ChainTemplate) {
        self.name = name
        self.value = value
    }
}

/// A parameter value of a chained job, with placeholders for the finished job: `{job.id}`,
/// `{job.pipeline}`, `{job.state}`, `{job.triggered_by}`, and `{param.NAME}` for a stored
/// parameter of the finished job (empty if it has none); `{{`/`}}` are braces.
public struct ChainTemplate: Sendable, Hashable {
    private let template: BracedTemplate

    /// The text as written.
    public var source: String { self.template.source }

    /// The `param.` placeholders used, by parameter name.
    public var parameterNames: [String] {
        self.template.parts.compactMap {
            if case .placeholder(let name) = $0, name.hasPrefix("param.") { return String(name.dropFirst(6)) }
            return nil
        }
    }

    static let jobNames = ["job.id", "job.pipeline", "job.state", "job.triggered_by"]

    /// Parses `source`.
    /// - Throws: `CronError` naming an unknown placeholder or an unpaired brace.
    public init(_ source: String) throws(CronError) {
        self.template = try BracedTemplate(
            source,
            isKnown: { name in
                Self.jobNames.contains { $0.utf8.elementsEqual(name.utf8) } || (name.hasPrefix("param.") && name.utf8.count > 6)
            },
            known: (Self.jobNames + ["param.NAME"]).map { "{\($0)}" }.joined(separator: ", "))
    }

    /// The value for the job that follows `job`.
    public func render(_ job: JobRecord) -> String {
        self.template.render { name in
            switch name {
            case "job.id": "\(job.id)"
            case "job.pipeline": job.pipeline
            case "job.state": job.state.rawValue
            case "job.triggered_by": job.triggeredBy
            default:
                // Looked up by bytes: `param.\u{212A}ey` is not the parameter `Key`.
                job.params.first { $0.key.utf8.elementsEqual(name.utf8.dropFirst(6)) }?.value ?? ""
            }
        }
    }
}
