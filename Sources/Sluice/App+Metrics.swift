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
    static func collectGauges(into metrics: SluiceMetrics, store: any JobStore, runner: Runner?) {
        metrics.registry.gaugeCollected(
            "sluice_jobs", help: "Unfinished jobs in the store, by pipeline and state (queued: the queue depth).",
            labels: ["pipeline", "state"]
        ) {
            guard let jobs = try? store.unfinishedJobs() else { return [] }
            var counts: [String: [String: Double]] = [:]
            for job in jobs { counts[job.pipeline, default: [:]][job.state.rawValue, default: 0] += 1 }
            return counts.flatMap { pipeline, states in states.map { ([pipeline, $0.key], $0.value) } }
        }
        guard let runner else { return }
        metrics.registry.gaugeCollected("sluice_running_tasks", help: "Task attempts this host runs now (process slots in use).") {
            [([], Double(runner.activity.runningTasks))]
        }
        metrics.registry.gaugeCollected("sluice_active_jobs", help: "Jobs this host holds now (claimed or admitted, unfinished).") {
            [([], Double(runner.activity.activeJobs))]
        }
    }
}
