import Foundation
import Identity
public import JobStore
public import Metrics

/// Sluice's metrics (`GET /metrics`, Prometheus text format): what this process saw since it
/// started (counters and histograms) and what is true now (gauges, several computed at scrape).
/// With several hosts each host is scraped on its own; sum over hosts in PromQL.
public final class SluiceMetrics: Sendable {
    /// The registry the families live in.
    public let registry = MetricsRegistry()

    /// Latency buckets for HTTP requests, in seconds.
    static let requestBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Duration buckets for task attempts and jobs, in seconds (up to a day).
    static let runBuckets = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 86400]

    let httpRequests: CounterFamily
    let httpDuration: HistogramFamily
    let authenticationFailures: CounterFamily
    let attempts: CounterFamily
    let attemptDuration: HistogramFamily
    let jobsFinished: CounterFamily
    let jobDuration: HistogramFamily
    let commits: HistogramFamily
    let reloads: CounterFamily
    let configInfo: GaugeFamily
    let upstreamDecisions: CounterFamily

    /// Registers every family; the scrape-time gauges are added by `App` (`collectGauges`).
    public init() {
        let r = self.registry
        self.httpRequests = r.counter(
            "sluice_http_requests_total", help: "HTTP requests answered, by route pattern, method and status.",
            labels: ["route", "method", "status"])
        self.httpDuration = r.histogram(
            "sluice_http_request_duration_seconds", help: "Time to answer an HTTP request, by route pattern.", labels: ["route"],
            buckets: Self.requestBuckets)
        self.authenticationFailures = r.counter(
            "sluice_authentication_failures_total",
            help: "Requests with credentials that were present but invalid, by identity source and reason.", labels: ["source", "reason"])
        self.attempts = r.counter(
            "sluice_task_attempts_total", help: "Task attempts that ended on this host, by pipeline and outcome.",
            labels: ["pipeline", "outcome"])
        self.attemptDuration = r.histogram(
            "sluice_task_attempt_duration_seconds", help: "How long task attempts ran on this host, by pipeline.",
            labels: ["pipeline"], buckets: Self.runBuckets)
        self.jobsFinished = r.counter(
            "sluice_jobs_finished_total", help: "Jobs this host finished, by pipeline and final state.", labels: ["pipeline", "state"])
        self.jobDuration = r.histogram(
            "sluice_job_duration_seconds", help: "Time from trigger to final state of the jobs this host finished, by pipeline.",
            labels: ["pipeline"], buckets: Self.runBuckets)
        self.commits = r.histogram(
            "sluice_store_commit_duration_seconds", help: "Time the job store took to commit the runner's task changes, by result.",
            labels: ["result"], buckets: Self.requestBuckets)
        self.reloads = r.counter(
            "sluice_config_reloads_total", help: "Configuration reloads (SIGHUP), by result.", labels: ["result"])
        self.configInfo = r.gauge(
            "sluice_config_info", help: "The configuration in force: 1 for its SHA-256.", labels: ["sha256"])
        self.upstreamDecisions = r.counter(
            "sluice_upstream_decisions_total",
            help: "Requests to guarded upstreams that Sluice decided as lighttpd's authorizer, by upstream, verb and decision.",
            labels: ["upstream", "verb", "decision"])
    }

    /// A decision about a request to a guarded upstream. `upstream` is a configured name (an
    /// unknown one is counted as `unknown`), `verb` the rule's verb or `none` when no rule
    /// matched, `decision` one of a fixed set: the labels stay bounded.
    func upstreamDecided(upstream: String, verb: String, decision: String) {
        self.upstreamDecisions.add(1, [upstream, verb, decision])
    }

    /// An answered HTTP request.
    func request(route: String, method: String, status: Int, seconds: Double) {
        self.httpRequests.add(1, [route, Self.method(method), Self.statusText(status)])
        self.httpDuration.observe(seconds, [route])
    }

    /// The status as a label: the codes from 100 to 599 made once (a String per request showed
    /// in profiles of light requests), anything else made when seen.
    static func statusText(_ status: Int) -> String {
        (100..<600).contains(status) ? self.statusTexts[status - 100] : String(status)
    }

    private static let statusTexts = (100..<600).map { String($0) }

    /// Methods as sent would let a client make any number of series: the known ones, else OTHER.
    static func method(_ method: String) -> String {
        self.knownMethods.first { $0.utf8.elementsEqual(method.utf8) } ?? "OTHER"
    }

    /// The methods `method(_:)` keeps as they are (made once, not on every request).
    private static let knownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    /// Credentials that were present but invalid, by source and reason (both from small fixed
    /// sets; the free-text details would make a series per token).
    func authenticationFailed(_ failure: AuthenticationFailure) {
        self.authenticationFailures.add(1, [failure.source.rawValue, failure.reason.name])
    }

    /// An attempt that ended on this host.
    public func attemptEnded(pipeline: String, outcome: String, seconds: Double?) {
        self.attempts.add(1, [pipeline, outcome])
        if let seconds { self.attemptDuration.observe(seconds, [pipeline]) }
    }

    /// A job this host finished.
    public func jobFinished(pipeline: String, state: JobState, seconds: Double) {
        self.jobsFinished.add(1, [pipeline, state.rawValue])
        self.jobDuration.observe(seconds, [pipeline])
    }

    /// A commit of the runner's task changes.
    public func committed(seconds: Double, succeeded: Bool) {
        self.commits.observe(seconds, [succeeded ? "ok" : "error"])
    }

    /// A reload, and the configuration in force after it.
    public func reloaded(accepted: Bool, hash: String) {
        self.reloads.add(1, [accepted ? "accepted" : "refused"])
        if accepted { self.configured(hash: hash) }
    }

    /// The configuration in force.
    public func configured(hash: String) {
        self.configInfo.reset()
        self.configInfo.set(1, [hash])
    }
}
