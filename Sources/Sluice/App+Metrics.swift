import ByteStrings
import Foundation
import HTTP
import Identity
import JobStore
import Metrics
import Policy
import Workflow

extension App {
    /// `GET /metrics`: the Prometheus text exposition. Readable without identity from the
    /// addresses in `server.metrics_peers` (a Prometheus server that scrapes the FastCGI host
    /// directly, or a front server that answers for it), else by a caller with the `admin` verb.
    func metricsEndpoint(_ context: PublicContext) throws -> HTTPResponse {
        let address = context.request.params["REMOTE_ADDR"] ?? ""
        let trusted = context.snapshot.configuration.server.metricsPeers.contains { $0.contains(address) }
        if !trusted {
            guard case .authenticated(let principal) = context.snapshot.authenticator.authenticate(context.request) else {
                throw HTTPError(.unauthorized, "authentication required")
            }
            guard case .allow = context.snapshot.policy.decideOnInstance(Explanation.subject(of: principal), .admin) else {
                throw HTTPError(.forbidden, "reading metrics needs the admin verb, or an address in server.metrics_peers")
            }
        }
        return HTTPResponse(
            status: .ok, headers: [("Content-Type", MetricsRegistry.contentType)], body: Array(self.metrics.registry.exposition().utf8))
    }

    /// The gauges computed at each scrape: unfinished jobs per pipeline and state (from the
    /// store: every host's), and this host's running tasks and active jobs.
    /// `approvalsConfigured` says whether any pipeline in force needs approval: only then does a
    /// scrape also look for waiting jobs (a query the unfinished jobs' index does not cover).
    static func collectGauges(
        into metrics: SluiceMetrics, store: any JobStore, runner: Runner?, approvalsConfigured: @escaping @Sendable () -> Bool
    ) {
        metrics.registry.gaugeCollected(
            "sluice_jobs",
            help:
                "Unfinished jobs in the store, by pipeline and state (queued: the queue depth; awaiting_approval: at most 1,000 counted).",
            labels: ["pipeline", "state"]
        ) {
            guard var jobs = try? store.unfinishedJobs() else { return [] }
            if approvalsConfigured() {
                var waiting = JobQuery(limit: JobQuery.maxLimit)
                waiting.states = [.awaitingApproval]
                jobs += (try? store.jobs(waiting)) ?? []
            }
            // Pipeline names as bytes: two spellings that Unicode calls equal are two pipelines.
            var counts: [ByteString: [String: Double]] = [:]
            for job in jobs { counts[ByteString(job.pipeline), default: [:]][job.state.rawValue, default: 0] += 1 }
            return counts.flatMap { pipeline, states in states.map { ([pipeline.string, $0.key], $0.value) } }
        }
        guard let runner else { return }
        metrics.registry.gaugeCollected(
            "sluice_running_tasks", help: "Task attempts this host runs now, by pipeline (sum: process slots running).",
            labels: ["pipeline"]
        ) {
            runner.activity.runningByPipeline.map { ([$0.name], Double($0.count)) }
        }
        metrics.registry.gaugeCollected(
            "sluice_task_slots_in_use", help: "Process slots this host has taken: running attempts and claims about to start."
        ) {
            [([], Double(runner.activity.slotsInUse))]
        }
        metrics.registry.gaugeCollected(
            "sluice_resource_in_use", help: "Amount of each named resource held by tasks this host runs.", labels: ["resource"]
        ) {
            runner.activity.resourcesInUse.map { ([$0.name], Double($0.count)) }
        }
        metrics.registry.gaugeCollected("sluice_active_jobs", help: "Jobs this host holds now (claimed or admitted, unfinished).") {
            [([], Double(runner.activity.activeJobs))]
        }
    }

    /// The gauges and counters read off the configuration in force: process slots, resource
    /// capacities, and the JWKS fetches of its assertion sources.
    func collectConfigurationGauges(parallelism: Int) {
        // server.parallelism changes only on restart: the value this process started with.
        self.metrics.registry.gaugeCollected("sluice_task_slots", help: "Process slots of this host (server.parallelism).") {
            [([], Double(parallelism))]
        }
        // Capacities change on reload, like the runner's limits.
        self.metrics.registry.gaugeCollected(
            "sluice_resource_capacity", help: "Capacity of each named resource (the resources section).", labels: ["resource"]
        ) { [weak self] in
            guard let self else { return [] }
            return self.currentSnapshot.configuration.resources.sorted { ByteString($0.key) < ByteString($1.key) }.map {
                ([$0.key], Double($0.value))
            }
        }
        // Long-polls parked now, and how many may be (JobChanges).
        self.metrics.registry.gaugeCollected(
            "sluice_long_polls_waiting", help: "Long-polling requests (?wait=) parked now, holding no thread."
        ) { [weak self] in
            guard let self else { return [] }
            return [([], Double(self.changes.waiting))]
        }
        self.metrics.registry.gaugeCollected(
            "sluice_long_polls_max", help: "Long-polling requests that may be parked at once (beyond it: 503)."
        ) { [weak self] in
            guard let self else { return [] }
            return [([], Double(self.changes.maxWatchers))]
        }
        // JWKS fetches per assertion source, read from the providers of the configuration in
        // force (a reload makes new providers: the counts start again, which Prometheus takes
        // as a counter reset).
        self.metrics.registry.counterCollected(
            "sluice_jwks_fetches_total", help: "JWKS fetches that ended, by assertion source and result (ok: a usable key set).",
            labels: ["source", "result"]
        ) { [weak self] in
            guard let self else { return [] }
            return self.currentSnapshot.configuration.identity.assertions.flatMap { source -> [([String], Double)] in
                guard let provider = source.keys as? RemoteKeyProvider else { return [] }
                let outcomes = provider.fetchOutcomes
                return [([source.name, "ok"], Double(outcomes.succeeded)), ([source.name, "error"], Double(outcomes.failed))]
            }
        }
    }
}
