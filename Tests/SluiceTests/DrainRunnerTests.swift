import Foundation
import HTTP
import JobStore
import SQLiteStore
import TestSupport
import Testing
import Workflow

@testable import Sluice

/// A drain through the API against the real runner (no lighttpd): new jobs queue, the running
/// one finishes, the exit comes, and the queued job starts with the next runner.
@Suite("Drain with the real runner", .serialized)
struct DrainRunnerTests {
    @Test("Drain: the running job finishes, a new one queues, the exit comes, and the next start runs the queued job")
    func drainThenNextStart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let release = dir.file("release")
        let config = """
            {
              server: { base_path: "/sluice", data_dir: "\(dir.file("data"))" },
              roles: { admin: { users: ["ada"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "admin"] }] } },
              pipelines: {
                gate: {
                  params: { n: { default: "0" } },
                  tasks: { wait: { run: ["/bin/sh", "-c", "while [ ! -e \\"$1\\" ]; do sleep 0.05; done; echo released $2", "sh", "\(release)", "{n}"] } },
                },
              },
            }
            """
        let configuration = try ConfigLoader.load(data: Data(config.utf8), file: "drain.json5", directory: dir.path)
        try FileManager.default.createDirectory(atPath: dir.file("data/logs"), withIntermediateDirectories: true)
        let store = try SQLiteJobStore(path: dir.file("data/sluice.db"))
        let runnerConfiguration = Runner.Configuration(logDirectory: dir.file("data/logs"), gracePeriod: 1)
        let runner = Runner(store: store, configuration: runnerConfiguration)
        let exits = ExitRecorder()
        let drain = DrainControl(runner: runner, onDrained: { exits.record() })
        let app = App(configuration: configuration, store: store, runner: runner, drain: drain)
        runner.start()
        var stopped = false
        defer { if !stopped { runner.stop() } }

        func send(_ method: String, _ path: String, _ body: String = "") -> HTTPResponse {
            let uri = "/sluice" + path
            var params = [
                "REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": "/sluice", "REMOTE_ADDR": "127.0.0.1",
                "REMOTE_USER": "ada", "CONTENT_LENGTH": String(body.utf8.count),
            ]
            if method == "POST" { params["CONTENT_TYPE"] = "application/json" }
            return AppHarness.answer(
                app.respond(to: HTTPRequest(method: method, requestURI: uri, scriptName: "/sluice", paramsDictionary: params, body: Array(body.utf8)))
            )
        }
        func json(_ response: HTTPResponse) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        }
        func state(_ id: Int64) throws -> JobState? { try store.job(id: id)?.state }

        // A runs, waiting for the release file.
        let a = try json(send("POST", "/api/v1/pipelines/gate/jobs", #"{"params":{"n":"a"}}"#))["id"] as! Int
        #expect(await Poll.until(within: .seconds(10)) { (try? state(Int64(a))) == .running })

        // Drain with the exit planned: the document shows what still runs.
        let planned = send("POST", "/api/v1/admin/drain", #"{"exit_when_drained": true}"#)
        #expect(planned.status.code == 200)
        #expect(try json(planned)["exit_when_drained"] as? Bool == true)
        let counts = await Poll.value(within: .seconds(5)) { () -> (Int, Int)? in
            guard let doc = try? json(send("GET", "/api/v1/admin/drain")) else { return nil }
            let pair = (doc["active_jobs"] as? Int ?? -1, doc["running_tasks"] as? Int ?? -1)
            return pair == (1, 1) ? pair : nil
        }
        #expect(counts != nil, "the drain document never showed A running")
        let health = try json(send("GET", "/healthz"))
        #expect(health["status"] as? String == "draining" && health["active_jobs"] as? Int == 1)

        // B is accepted and queues while A runs.
        let triggered = send("POST", "/api/v1/pipelines/gate/jobs", #"{"params":{"n":"b"}}"#)
        #expect(triggered.status.code == 202)
        let b = Int64(try json(triggered)["id"] as! Int)
        try await Task.sleep(for: .seconds(1))
        #expect(try state(b) == .queued, "B started while draining")
        #expect(try state(Int64(a)) == .running)
        #expect(exits.calls == 0, "exited while A still ran")

        // A finishes: drained, the exit comes; B is still queued.
        FileManager.default.createFile(atPath: release, contents: Data())
        #expect(await Poll.until(within: .seconds(10)) { (try? state(Int64(a))) == .succeeded })
        #expect(await exits.waitForCall(within: .seconds(10)))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try state(b) == .queued)
        runner.stop()
        stopped = true
        #expect(try state(b) == .queued, "stopping must not start or fail a queued job")

        // The next start is not draining: B runs and succeeds.
        let next = Runner(store: store, configuration: runnerConfiguration)
        next.start()
        defer { next.stop() }
        #expect(!next.activity.draining)
        #expect(await Poll.until(within: .seconds(10)) { (try? state(b)) == .succeeded })
    }
}
