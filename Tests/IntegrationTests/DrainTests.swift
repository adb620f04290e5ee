import Foundation
import JobStore
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Drain for host maintenance, end to end: a real lighttpd in front of a real `sluice serve`.
/// New jobs queue while running ones finish, Sluice exits 0 once nothing runs, and the queued
/// jobs start on the next start — through the API (`/api/v1/admin/drain`, the `admin` verb),
/// through `sluice drain` (SIGUSR1, SIGUSR2, `--wait`), and under lighttpd `bin-path` too.
///
/// Every job runs the pipeline `gate`, whose task waits until the file `release` exists, so the
/// test decides when running jobs finish.
@Suite("Drain: no new jobs start, running ones finish, then exit", .serialized, .timeLimit(.minutes(3)))
struct DrainTests {
    static func sluiceConfig(directory: String) -> String {
        """
        // Written by DrainTests.
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, parallelism: 4, grace_period_seconds: 1,
                    max_body_bytes: 65536 },
          roles: {
            admin:    { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "logs", "audit", "admin"] }] },
            operator: { users: ["bob"],   grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit"] }] },
          },
          pipelines: {
            gate: {
              description: "Waits until the test releases it",
              params: { name: { default: "x" } },
              tasks: { wait: { run: ["/bin/sh", "-c", "while [ ! -e \\"$1\\" ]; do sleep 0.05; done; echo released $2", "sh", "\(directory)/release", "{name}"] } },
            },
          },
        }

        """
    }

    /// The harness with sluice on its own socket (the test sees its exit status).
    static func start() async throws -> LighttpdHarness {
        var options = LighttpdHarness.Options()
        options.sluiceOnOwnSocket = true
        return try await LighttpdHarness.start(options, sluiceConfig: Self.sluiceConfig)
    }

    /// Triggers `gate` as bob; returns the job's API URL.
    static func trigger(_ harness: LighttpdHarness, _ name: String) throws -> String {
        let response = try harness.client.postJSON("/sluice/api/v1/pipelines/gate/jobs", #"{"params":{"name":"\#(name)"}}"#, as: "bob")
        try #require(response.status == 202, "\(response)")
        return try #require(response.header("Location"))
    }

    /// The drain document as alice sees it.
    static func drainStatus(_ harness: LighttpdHarness) throws -> [String: Any] {
        let response = try harness.client.send("GET", "/sluice/api/v1/admin/drain", as: "alice")
        try #require(response.status == 200, "\(response)")
        return try response.jsonObject()
    }

    /// The job store, read directly (for when sluice is not running).
    static func store(_ harness: LighttpdHarness) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: harness.directory + "/data/sluice.db")
    }

    static func jobID(_ location: String) -> Int64 { Int64(location.split(separator: "/").last.map(String.init) ?? "") ?? 0 }

    /// Creates the file the `gate` task waits for.
    static func release(_ harness: LighttpdHarness) {
        _ = FileManager.default.createFile(atPath: harness.directory + "/release", contents: Data())
    }

    @Test("API: drain with exit_when_drained — B queues while A runs, A finishes, sluice exits 0, B runs on the next start")
    func apiDrainThenExit() async throws {
        let harness = try await Self.start()
        defer { harness.shutdown() }
        let client = harness.client
        let first = try #require(harness.sluice)

        let a = try Self.trigger(harness, "a")
        _ = try await harness.waitForJob(at: a, as: "bob") { $0.state == "running" }

        // bob may trigger everything but has no admin: 403, nothing drains.
        let denied = try client.postJSON("/sluice/api/v1/admin/drain", #"{"exit_when_drained": true}"#, as: "bob")
        #expect(denied.status == 403, "\(denied)")
        #expect(try Self.drainStatus(harness)["draining"] as? Bool == false)
        // Hostile bodies through the whole stack: 400, 413 (lighttpd's body limit in Sluice's FastCGI layer), 415.
        #expect(try client.postJSON("/sluice/api/v1/admin/drain", #"{"exit_when_drained": "yes"}"#, as: "alice").status == 400)
        #expect(
            try client.postJSON("/sluice/api/v1/admin/drain", "{\"x\": \"\(String(repeating: "a", count: 70_000))\"}", as: "alice").status
                == 413)
        let plain = try client.send(
            "POST", "/sluice/api/v1/admin/drain", as: "alice", headers: [("Content-Type", "text/plain")], body: Array("{}".utf8))
        #expect(plain.status == 415)
        #expect(try Self.drainStatus(harness)["draining"] as? Bool == false)

        let drained = try client.postJSON("/sluice/api/v1/admin/drain", #"{"exit_when_drained": true}"#, as: "alice")
        try #require(drained.status == 200, "\(drained)")
        let document = try drained.jsonObject()
        #expect(document["draining"] as? Bool == true && document["exit_when_drained"] as? Bool == true)
        #expect(document["active_jobs"] as? Int == 1 && document["running_tasks"] as? Int == 1, "\(document)")

        let health = try client.send("GET", "/sluice/healthz")
        #expect(health.status == 200)
        let healthJSON = try health.jsonObject()
        #expect(healthJSON["status"] as? String == "draining" && healthJSON["active_jobs"] as? Int == 1, "\(healthJSON)")
        let dashboard = try client.send("GET", "/sluice/", as: "bob").text
        #expect(dashboard.contains("Draining: no new jobs start; 1 job still running."))
        #expect(dashboard.contains("Sluice will exit once nothing runs"))

        // Triggers are still accepted, and wait.
        let b = try Self.trigger(harness, "b")
        try await Task.sleep(for: .seconds(2))
        let waiting = try JobDocument.decode(try client.send("GET", b, as: "bob").body)
        #expect(waiting.state == "queued", "B started while draining: \(waiting.summary)")
        let stillRunning = try JobDocument.decode(try client.send("GET", a, as: "bob").body)
        #expect(stillRunning.state == "running")
        #expect(first.isRunning, "sluice exited while A still ran\n\(harness.logs())")

        // A finishes: sluice exits 0 by itself; B is still queued.
        Self.release(harness)
        let ended = await first.wait(timeout: .seconds(30))
        #expect(ended.exitCode == 0, "\(first.terminationDescription)\n\(harness.logs())")
        let store = try Self.store(harness)
        #expect(try store.job(id: Self.jobID(a))?.state == .succeeded)
        #expect(try store.job(id: Self.jobID(b))?.state == .queued)
        let log = (try? String(contentsOfFile: harness.sluiceLogPath, encoding: .utf8)) ?? ""
        #expect(log.contains("draining: no new job starts; exiting once nothing runs"), "\(log)")
        #expect(log.contains("\"reason\":\"drained\""), "\(log)")
        // The audit log: who drained (and who was refused).
        let records = try store.auditRecords(AuditQuery(event: "drain"))
        #expect(records.contains { $0.allowed && $0.user == "alice" && $0.reason == "roles.admin.grants[0]; exit_when_drained" })
        #expect(records.contains { !$0.allowed && $0.user == "bob" })

        // The next start is not draining: B runs and succeeds.
        try await harness.startSluice()
        let after = try client.send("GET", "/sluice/healthz").jsonObject()
        #expect(after["status"] as? String == "ok" && after["draining"] == nil, "\(after)")
        let job = try await harness.waitForJob(at: b, as: "bob") { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")
    }

    @Test("sluice drain: SIGUSR1 drains, DELETE resumes, --exit --wait returns once sluice exited 0; the queued job runs next start")
    func command() async throws {
        let harness = try await Self.start()
        defer { harness.shutdown() }
        let client = harness.client
        let binary = harness.directory + "/sluice"
        let config = harness.sluiceConfigPath
        let first = try #require(harness.sluice)

        let a = try Self.trigger(harness, "a")
        _ = try await harness.waitForJob(at: a, as: "bob") { $0.state == "running" }

        // SIGUSR1: drain, no exit.
        let signalled = try ChildProcess.run(binary, ["drain", "--config", config], timeout: .seconds(20))
        #expect(signalled.succeeded, "\(signalled)")
        #expect(signalled.stdout.contains("sent SIGUSR1 to sluice serve process \(first.pid)"), "\(signalled.stdout)")
        #expect(await Poll.until(within: .seconds(5)) { (try? Self.drainStatus(harness)["draining"] as? Bool) == true })
        #expect(try Self.drainStatus(harness)["exit_when_drained"] as? Bool == false)
        let b = try Self.trigger(harness, "b")
        try await Task.sleep(for: .seconds(1.5))
        #expect(try JobDocument.decode(try client.send("GET", b, as: "bob").body).state == "queued")

        // DELETE resumes: B starts.
        let resumed = try client.send("DELETE", "/sluice/api/v1/admin/drain", as: "alice")
        #expect(resumed.status == 200, "\(resumed)")
        #expect(try resumed.jsonObject()["draining"] as? Bool == false)
        _ = try await harness.waitForJob(at: b, as: "bob") { $0.state == "running" }

        // SIGUSR2 with --wait: the command waits while A and B run.
        let waiting = try ChildProcess(path: binary, arguments: ["drain", "--config", config, "--exit", "--wait"])
        #expect(await Poll.until(within: .seconds(5)) { (try? Self.drainStatus(harness)["exit_when_drained"] as? Bool) == true })
        let c = try Self.trigger(harness, "c")
        try await Task.sleep(for: .seconds(1))
        #expect(waiting.isRunning, "sluice drain --wait returned while jobs still ran")
        #expect(first.isRunning)
        Self.release(harness)
        let result = await waiting.wait(timeout: .seconds(30))
        #expect(result.succeeded, "\(result)\n\(harness.logs())")
        #expect(result.stdout.contains("sent SIGUSR2 to sluice serve process \(first.pid)"), "\(result.stdout)")
        #expect(result.stdout.contains("process \(first.pid) has exited"), "\(result.stdout)")
        // The command returned only after sluice had exited (with status 0).
        #expect(!first.isRunning)
        #expect(first.terminationDescription == "exit status 0", "\(first.terminationDescription)\n\(harness.logs())")

        let store = try Self.store(harness)
        #expect(try store.job(id: Self.jobID(a))?.state == .succeeded)
        #expect(try store.job(id: Self.jobID(b))?.state == .succeeded)
        #expect(try store.job(id: Self.jobID(c))?.state == .queued)
        let drains = try store.auditRecords(AuditQuery(event: "drain"))
        #expect(drains.contains { $0.allowed && $0.user == nil && $0.reason == "SIGUSR1 (sluice drain)" })
        #expect(drains.contains { $0.allowed && $0.user == nil && $0.reason == "SIGUSR2 (sluice drain --exit); exit_when_drained" })
        #expect(try store.auditRecords(AuditQuery(event: "resume")).contains { $0.allowed && $0.user == "alice" })

        // Nothing serves the data directory now: the command refuses, signalling nobody.
        let nobody = try ChildProcess.run(binary, ["drain", "--config", config], timeout: .seconds(20))
        #expect(nobody.exitCode == 1)
        #expect(nobody.stderr.contains("no sluice serve runs on"), "\(nobody.stderr)")

        try await harness.startSluice()
        let job = try await harness.waitForJob(at: c, as: "bob") { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")
    }

    @Test("Under lighttpd bin-path: sluice drain --exit --wait; lighttpd starts sluice again and the queued job runs")
    func binPath() async throws {
        var options = LighttpdHarness.Options()
        options.sluiceEnvironment = ["SLUICE_LOG_LEVEL": "info"]
        let harness = try await LighttpdHarness.start(options, sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let old = harness.sluiceProcessIDs().filter(harness.isSluice)
        try #require(old.count == 1)
        let a = try Self.trigger(harness, "a")
        _ = try await harness.waitForJob(at: a, as: "bob") { $0.state == "running" }

        let waiting = try ChildProcess(
            path: harness.directory + "/sluice", arguments: ["drain", "--config", harness.sluiceConfigPath, "--exit", "--wait"])
        #expect(await Poll.until(within: .seconds(5)) { (try? Self.drainStatus(harness)["exit_when_drained"] as? Bool) == true })
        let b = try Self.trigger(harness, "b")
        try await Task.sleep(for: .seconds(1))
        #expect(try JobDocument.decode(try harness.client.send("GET", b, as: "bob").body).state == "queued")
        Self.release(harness)
        let result = await waiting.wait(timeout: .seconds(30))
        #expect(result.succeeded, "\(result)\n\(harness.logs())")
        #expect(result.stdout.contains("process \(old[0]) has exited"), "\(result.stdout)")

        // lighttpd notices its backend exited and starts a new one (a request makes it do so at once).
        let next = try await harness.waitForRestart(replacing: old)
        #expect(next != old[0])
        let job = try await harness.waitForJob(at: b, as: "bob") { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")
        #expect(harness.logs().contains("\"reason\":\"drained\""), "\(harness.logs())")
    }
}
