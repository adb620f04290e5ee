import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end tests of the walking skeleton: curl-like requests → lighttpd (basic auth, mod_fastcgi
/// `bin-path`) → `sluice serve` → job runner → subprocesses, and back.
///
/// Every test starts its own lighttpd and sluice in a fresh temporary directory, so tests share no
/// state; the suite is serialized because they all spawn real processes on a small machine.
@Suite("Sluice behind a real lighttpd", .serialized, .timeLimit(.minutes(2)))
struct WalkingSkeletonTests {
    /// The Sluice config every test uses; `directory` is the harness's temporary directory.
    static func sluiceConfig(directory: String) -> String {
        """
        // Written by WalkingSkeletonTests.
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, parallelism: 4, max_body_bytes: 65536 },
          roles: {
            admin:    { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "logs"] }] },
            operator: { users: ["bob"],   grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel"] }] },
            viewer:   { users: ["carol"], grants: [{ pipelines: ["*"], verbs: ["view"] }] },
          },
          pipelines: {
            diamond: {
              description: "Four tasks in a diamond",
              params: { who: { default: "world" } },
              tasks: {
                fetch:   { run: ["/bin/sh", "-c", "echo fetching for $1; sleep 1", "sh", "{who}"] },
                left:    { run: ["/bin/sh", "-c", "echo left; sleep 1"], needs: ["fetch"] },
                right:   { run: ["/bin/sh", "-c", "echo right; sleep 1"], needs: ["fetch"] },
                publish: { run: ["/bin/echo", "published"], needs: ["left", "right"] },
              },
            },
            broken: {
              description: "The second task fails, so the third is skipped",
              tasks: {
                first:  { run: ["/bin/sh", "-c", "echo first"] },
                second: { run: ["/bin/sh", "-c", "echo second; exit 1"], needs: ["first"] },
                third:  { run: ["/bin/echo", "third"], needs: ["second"] },
              },
            },
            sleeper: {
              description: "Records its process group id, then sleeps in two processes",
              tasks: {
                sleep: { run: ["/bin/sh", "-c", "echo $$ > \(directory)/pgid; sleep 300 & sleep 300; wait"] },
              },
            },
            quick: {
              description: "One instant task",
              tasks: { only: { run: ["/bin/echo", "done"] } },
            },
          },
        }

        """
    }

    @Test("bob triggers diamond: 202 with Location, all four tasks succeed, publish runs after left and right")
    func diamondSucceeds() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client

        let accepted = try client.postJSON(
            "/sluice/api/v1/pipelines/diamond/jobs", #"{"params":{"who":"it"}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let created = try JobDocument.decode(accepted.body)
        #expect(created.pipeline == "diamond")
        #expect(created.triggeredBy == "bob")
        #expect(created.params["who"] == "it")
        let location = try #require(accepted.header("Location"))
        #expect(location == "/sluice/api/v1/jobs/\(created.id)")

        let job = try await harness.waitForJob(at: location, as: "bob", every: .milliseconds(200)) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")
        #expect(Set(job.tasks.map(\.name)) == ["fetch", "left", "right", "publish"])
        for task in job.tasks {
            #expect(task.state == "succeeded", "\(task.name): \(job.summary)")
            #expect(task.exitCode == 0, "\(task.name)")
        }
        #expect(job.task("publish")?.needs.sorted() == ["left", "right"])

        // The DAG order, from the recorded timestamps (equal is allowed for whole-second timestamps).
        let fetchFinished = try #require(JobDocument.date(job.task("fetch")?.finishedAt), "\(job.summary)")
        let publishStarted = try #require(JobDocument.date(job.task("publish")?.startedAt), "\(job.summary)")
        for name in ["left", "right"] {
            let started = try #require(JobDocument.date(job.task(name)?.startedAt), "\(name) started_at")
            let finished = try #require(JobDocument.date(job.task(name)?.finishedAt), "\(name) finished_at")
            #expect(started >= fetchFinished, "\(name) started before fetch finished")
            #expect(publishStarted >= finished, "publish started before \(name) finished")
        }

        let page = try client.send("GET", "/sluice/jobs/\(job.id)", as: "bob")
        #expect(page.status == 200, "\(page)")
        #expect(page.text.contains("succeeded"), "\(page)")

        let list = try client.send("GET", "/sluice/api/v1/jobs", as: "bob")
        #expect(list.status == 200, "\(list)")
        let jobs = try list.jsonObject()["jobs"] as? [[String: Any]]
        #expect(jobs?.contains { ($0["id"] as? Int) == job.id } == true, "\(list)")

        // Reading logs is its own verb: alice has it, bob does not. `{who}` reached the task as argv.
        let log = try client.send("GET", "/sluice/jobs/\(job.id)/tasks/fetch/log", as: "alice")
        #expect(log.status == 200, "\(log)")
        #expect(log.text.contains("fetching for it"), "\(log)")
        let forbiddenLog = try client.send("GET", "/sluice/jobs/\(job.id)/tasks/fetch/log", as: "bob")
        #expect(forbiddenLog.status == 403, "\(forbiddenLog)")
    }

    @Test("carol may not trigger (403), no credentials get lighttpd's 401, alice sees the dashboard")
    func identityAndVerbs() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client

        let forbidden = try client.postJSON("/sluice/api/v1/pipelines/diamond/jobs", #"{"params":{}}"#, as: "carol")
        #expect(forbidden.status == 403, "\(forbidden)")
        #expect(Self.errorStatus(forbidden) == 403, "\(forbidden)")

        let anonymous = try client.send("GET", "/sluice/api/v1/jobs")
        #expect(anonymous.status == 401, "\(anonymous)")
        #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Basic") == true, "\(anonymous.headers)")

        // The same prefix string in auth.require and fastcgi.server also covers "/sluiceX".
        let sibling = try client.send("GET", "/sluiceX/api/v1/jobs")
        #expect(sibling.status == 401, "\(sibling)")

        let wrongPassword = try HTTPClient(port: harness.port, passwords: ["alice": "not-alice"])
            .send("GET", "/sluice/", as: "alice")
        #expect(wrongPassword.status == 401, "\(wrongPassword)")

        let dashboard = try client.send("GET", "/sluice/", as: "alice")
        #expect(dashboard.status == 200, "\(dashboard)")
        #expect(dashboard.header("Content-Type")?.hasPrefix("text/html") == true, "\(dashboard.headers)")

        let viewerList = try client.send("GET", "/sluice/api/v1/jobs", as: "carol")
        #expect(viewerList.status == 200, "\(viewerList)")

        let health = try client.send("GET", "/sluice/healthz")
        #expect(health.status == 200, "\(health)")
        #expect(try health.jsonObject()["status"] as? String == "ok")
    }

    @Test("a FastCGI param that appears twice (X-Forwarded_User and X-Forwarded-User) is a 400")
    func duplicateParamIsRejected() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client

        // Control: one spelling alone is an ordinary request.
        let single = try client.send("GET", "/sluice/api/v1/jobs", as: "bob", headers: [("X-Forwarded-User", "bob")])
        #expect(single.status == 200, "\(single)")

        // lighttpd 1.4.69 maps both names to HTTP_X_FORWARDED_USER and sends the param twice.
        let spoofed = try client.send(
            "GET", "/sluice/api/v1/jobs", as: "bob",
            headers: [("X-Forwarded_User", "mallory"), ("X-Forwarded-User", "bob")])
        #expect(spoofed.status == 400, "\(spoofed)")
        #expect(Self.errorStatus(spoofed) == 400, "\(spoofed)")
    }

    @Test("a failing task fails the job and its downstream task is skipped")
    func failureSkipsDownstream() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }

        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/broken/jobs", #"{"params":{}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let location = try #require(accepted.header("Location"))

        let job = try await harness.waitForJob(at: location, as: "bob", every: .milliseconds(200)) { $0.isFinished }
        #expect(job.state == "failed", "\(job.summary)")
        #expect(job.task("first")?.state == "succeeded", "\(job.summary)")
        #expect(job.task("second")?.state == "failed", "\(job.summary)")
        #expect(job.task("second")?.exitCode == 1, "\(job.summary)")
        #expect(job.task("third")?.state == "skipped", "\(job.summary)")
        #expect(job.task("third")?.startedAt == nil, "\(job.summary)")
    }

    @Test("cancelling a running job ends it cancelled and kills the task's whole process group")
    func cancelKillsProcessGroup() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client

        let accepted = try client.postJSON("/sluice/api/v1/pipelines/sleeper/jobs", #"{"params":{}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let location = try #require(accepted.header("Location"))
        let id = try JobDocument.decode(accepted.body).id

        // Wait until the task runs and its shell has written its pid (= its process group id).
        let pgidPath = harness.directory + "/pgid"
        _ = try await harness.waitForJob(at: location, as: "bob", timeout: .seconds(15), every: .milliseconds(200)) { job in
            job.task("sleep")?.state == "running" && Self.readProcessID(pgidPath) != nil
        }
        let group = try #require(Self.readProcessID(pgidPath))
        #expect(ProcessTable.status(of: group)?.processGroup == group, "the task should lead its own process group")
        #expect(ProcessTable.livingMembers(ofProcessGroup: group).count >= 2, "sh and its two sleeps")

        let cancel = try client.postJSON("/sluice/api/v1/jobs/\(id)/cancel", "{}", as: "bob")
        #expect(cancel.status == 202, "\(cancel)")

        let job = try await harness.waitForJob(at: location, as: "bob", timeout: .seconds(15), every: .milliseconds(200)) {
            $0.isFinished
        }
        #expect(job.state == "cancelled", "\(job.summary)")
        #expect(job.task("sleep")?.state == "cancelled", "\(job.summary)")

        // The background `sleep 300` must die too, not only the shell.
        var survivors: [pid_t] = []
        await Poll.until(within: .seconds(10), every: .milliseconds(200)) {
            survivors = ProcessTable.livingMembers(ofProcessGroup: group)
            return survivors.isEmpty
        }
        #expect(
            survivors.isEmpty,
            "still alive in process group \(group): \(survivors.map { ProcessTable.commandLine(of: $0) ?? [] })")
    }

    @Test("when lighttpd stops, sluice exits too instead of being orphaned")
    func stopsWithLighttpd() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }

        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/quick/jobs", #"{"params":{}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let location = try #require(accepted.header("Location"))
        let job = try await harness.waitForJob(at: location, as: "bob", every: .milliseconds(200)) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")

        let pids = harness.sluiceProcessIDs()
        #expect(pids.count == 1, "expected exactly one sluice process (max-procs 1), found \(pids)")
        let pid = try #require(pids.first)

        harness.stopLighttpd()
        await Poll.until(within: .seconds(5), every: .milliseconds(100)) { ProcessTable.isGone(pid) }
        #expect(ProcessTable.isGone(pid), "sluice \(pid) still runs 5 s after lighttpd stopped\n\(harness.logs())")
    }

    @Test("unknown jobs and pipelines are 404 with a JSON error")
    func unknownIsNotFound() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client

        let job = try client.send("GET", "/sluice/api/v1/jobs/999999", as: "bob")
        #expect(job.status == 404, "\(job)")
        #expect(Self.errorStatus(job) == 404, "\(job)")
        #expect(job.header("Content-Type")?.hasPrefix("application/json") == true, "\(job.headers)")

        let pipeline = try client.postJSON("/sluice/api/v1/pipelines/nope/jobs", #"{"params":{}}"#, as: "bob")
        #expect(pipeline.status == 404, "\(pipeline)")
        #expect(Self.errorStatus(pipeline) == 404, "\(pipeline)")
    }
}

extension WalkingSkeletonTests {
    /// The `error.status` of a JSON error body, or nil if the body is not one.
    static func errorStatus(_ response: HTTPClient.Response) -> Int? {
        guard let error = (try? response.jsonObject())?["error"] as? [String: Any] else { return nil }
        return error["status"] as? Int
    }

    /// A pid written as decimal text into a file, or nil while the file is missing or incomplete.
    static func readProcessID(_ path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
