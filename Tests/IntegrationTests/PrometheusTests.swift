import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real Prometheus (Debian 12's package) scrapes `GET /sluice/metrics` through lighttpd
/// (basic auth as alice; Sluice lets 127.0.0.1 read metrics through `server.metrics_peers`),
/// and PromQL queries against what it stored check the counters, the histograms and the labels.
@Suite("Prometheus scrapes Sluice's metrics", .serialized, .timeLimit(.minutes(2)))
struct PrometheusTests {
    /// The walking skeleton's configuration with metrics open to 127.0.0.1, a resource
    /// `warehouse` of 2, and a pipeline `held` whose one task holds one unit of it until cancelled.
    static func sluiceConfig(directory: String) -> String {
        WalkingSkeletonTests.sluiceConfig(directory: directory)
            .replacingOccurrences(
                of: "server: { base_path: \"/sluice\",",
                with: "resources: { warehouse: 2 }, server: { base_path: \"/sluice\", metrics_peers: [\"127.0.0.1\"],"
            )
            .replacingOccurrences(
                of: "  pipelines: {\n",
                with: "  pipelines: {\n    held: { tasks: { hold: { run: [\"/bin/sleep\", \"300\"], resources: { warehouse: 1 } } } },\n")
    }

    @Test(
        "After 3 quick jobs and 1 broken one: finished jobs and attempts by pipeline and state, 202s by route pattern, a usable request-duration histogram, the configuration hash, slots and resource capacity, and the target up; a running task shows by pipeline with its slot and resource, and not after its cancel"
    )
    func scrape() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let prometheus = try await PrometheusServer.start(scraping: harness.port, in: harness.directory)
        defer { prometheus.stop() }
        let client = harness.client

        var jobs: [String] = []
        for pipeline in ["quick", "quick", "quick", "broken"] {
            let response = try client.postJSON("/sluice/api/v1/pipelines/\(pipeline)/jobs", #"{"params":{}}"#, as: "bob")
            try #require(response.status == 202, "\(response)")
            jobs.append(try #require(response.header("Location")))
        }
        for location in jobs {
            let (job, last) = try await client.pollJob(at: location, as: "bob", timeout: .seconds(20)) { $0.isFinished }
            try #require(job != nil, "\(last)")
        }

        let hash = try #require(
            (try client.send("GET", "/sluice/healthz").jsonObject())["config"] as? String, "no configuration hash in /healthz")
        let expectations: [(String, Double)] = [
            (#"up{job="sluice"}"#, 1),
            (#"sluice_jobs_finished_total{pipeline="quick",state="succeeded"}"#, 3),
            (#"sluice_jobs_finished_total{pipeline="broken",state="failed"}"#, 1),
            (#"sluice_task_attempts_total{pipeline="broken",outcome="failed"}"#, 1),
            (#"sluice_task_attempts_total{pipeline="broken",outcome="succeeded"}"#, 1),
            (#"sum(sluice_http_requests_total{route="/api/v1/pipelines/:name/jobs",method="POST",status="202"})"#, 4),
            (#"sluice_job_duration_seconds_count{pipeline="quick"}"#, 3),
            ("sluice_config_info{sha256=\"\(hash)\"}", 1),
            (#"sum(sluice_running_tasks) or vector(0)"#, 0),
            (#"sluice_task_slots"#, 4),
            (#"sluice_resource_capacity{resource="warehouse"}"#, 2),
            (#"sluice_store_commit_duration_seconds_count{result="error"} or vector(0)"#, 0),
        ]
        for (query, expected) in expectations {
            let value = try await prometheus.waitForValue(query, equal: expected, timeout: .seconds(30))
            #expect(value == expected, "\(query) = \(value.map { "\($0)" } ?? "no result")\n\(prometheus.log().suffix(3000))")
        }
        // The histogram is a real one: PromQL computes a quantile from its buckets.
        let quantile = try prometheus.query(
            #"histogram_quantile(0.9, sum by (le) (sluice_http_request_duration_seconds_bucket{route="/api/v1/jobs/:id"}))"#)
        #expect(quantile.map { $0.isFinite && $0 > 0 } == true, "p90 of job polls: \(String(describing: quantile))")
        let commits = try prometheus.query(#"sluice_store_commit_duration_seconds_count{result="ok"}"#)
        #expect((commits ?? 0) >= 4, "the runner committed at least once per job: \(String(describing: commits))")
        // While a task holds a resource: the running task by pipeline, the slot and the resource
        // in use; after the cancel, none of them.
        let held = try client.postJSON("/sluice/api/v1/pipelines/held/jobs", #"{"params":{}}"#, as: "bob")
        try #require(held.status == 202, "\(held)")
        let heldLocation = try #require(held.header("Location"))
        _ = try await client.pollJob(at: heldLocation, as: "bob", timeout: .seconds(20)) { $0.state == "running" }
        for (query, expected) in [
            (#"sluice_running_tasks{pipeline="held"}"#, 1.0), (#"sluice_task_slots_in_use"#, 1),
            (#"sluice_resource_in_use{resource="warehouse"}"#, 1),
        ] {
            let value = try await prometheus.waitForValue(query, equal: expected, timeout: .seconds(30))
            #expect(value == expected, "\(query) = \(value.map { "\($0)" } ?? "no result") while held runs")
        }
        let cancel = try client.postJSON(heldLocation + "/cancel", "{}", as: "bob")
        #expect(cancel.status == 202 || cancel.status == 200, "\(cancel)")
        _ = try await client.pollJob(at: heldLocation, as: "bob", timeout: .seconds(20)) { $0.isFinished }
        for (query, expected) in [
            (#"sum(sluice_running_tasks) or vector(0)"#, 0.0), (#"sluice_task_slots_in_use"#, 0),
            (#"sum(sluice_resource_in_use) or vector(0)"#, 0),
        ] {
            let value = try await prometheus.waitForValue(query, equal: expected, timeout: .seconds(30))
            #expect(value == expected, "\(query) = \(value.map { "\($0)" } ?? "no result") after the cancel")
        }

        // No series per job id.
        let series = try prometheus.query(#"count(sluice_http_requests_total{route=~".*/jobs/[0-9]+.*"})"#)
        #expect(series == nil, "a path became a label: \(String(describing: series))")
    }
}

/// `prometheus` in the foreground with a private storage directory, scraping one target every
/// 500 ms.
final class PrometheusServer: @unchecked Sendable {
    let process: ChildProcess
    let port: UInt16
    let directory: String

    private init(process: ChildProcess, port: UInt16, directory: String) {
        self.process = process
        self.port = port
        self.directory = directory
    }

    static func start(scraping target: UInt16, in parent: String) async throws -> PrometheusServer {
        let binary = ["/usr/bin/prometheus", ProcessInfo.processInfo.environment["PROMETHEUS"]].compactMap { $0 }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else {
            throw HarnessError("prometheus is not installed: apt-get install prometheus, or run scripts/test, which installs it")
        }
        let directory = parent + "/prometheus"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try """
        # Written by PrometheusTests.
        global:
          scrape_interval: 500ms
          scrape_timeout: 400ms
          evaluation_interval: 500ms
        scrape_configs:
          - job_name: sluice
            metrics_path: /sluice/metrics
            basic_auth:
              username: alice
              password: \(LighttpdHarness.passwords["alice"]!)
            static_configs:
              - targets: ["127.0.0.1:\(target)"]

        """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        for _ in 0..<3 {
            let port = try MultiBackendTests.Front.freePort()
            let process = try ChildProcess(
                path: binary,
                arguments: [
                    "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                    "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
                ], stdout: .file(directory + "/prometheus.log", append: true), stderr: .sameAsStdout)
            let server = PrometheusServer(process: process, port: port, directory: directory)
            let ready = await Poll.until(within: .seconds(30), every: .milliseconds(200)) {
                !process.isRunning || (try? HTTPClient(port: port, passwords: [:]).send("GET", "/-/ready"))?.status == 200
            }
            if ready && process.isRunning { return server }
            process.terminate(signal: SIGKILL)
            if !server.log().contains("address already in use") { throw HarnessError("prometheus did not start\n\(server.log())") }
        }
        throw HarnessError("prometheus found no free port")
    }

    func log() -> String { ChildProcess.read(self.directory + "/prometheus.log") }

    func stop() { self.process.terminate(signal: SIGTERM, timeout: .seconds(10)) }

    /// The value of an instant query's first sample, nil if it has none.
    func query(_ promQL: String) throws -> Double? {
        let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let response = try HTTPClient(port: self.port, passwords: [:]).send("GET", "/api/v1/query?query=\(encoded)")
        guard response.status == 200 else { throw HarnessError("PromQL \(promQL): \(response)") }
        let data = (try response.jsonObject())["data"] as? [String: Any]
        guard let first = (data?["result"] as? [[String: Any]])?.first, let pair = first["value"] as? [Any], pair.count == 2,
            let text = pair[1] as? String
        else { return nil }
        return Double(text)
    }

    /// Queries until the value is `expected` (scrapes come every 500 ms) or `timeout` passes; the last value.
    func waitForValue(_ promQL: String, equal expected: Double, timeout: Duration) async throws -> Double? {
        var last: Double? = nil
        _ = try await Poll.until(within: timeout, every: .milliseconds(250)) {
            last = try self.query(promQL)
            return last == expected
        }
        return last
    }
}
