import Foundation
import TestSupport
import Testing

/// Four-eyes approval through lighttpd and the real `sluice serve`: a triggered job waits,
/// the person who triggered it cannot approve it, two others do, and then it runs.
@Suite("Approvals in a real sluice serve", .serialized, .timeLimit(.minutes(2)))
struct ApprovalFlowTests {
    @Test("A job waits for two approvers other than its trigger, then runs; a rejected one never runs")
    func fourEyes() async throws {
        let harness = try await LighttpdHarness.start { directory in
            """
            {
              server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 2 },
              roles: {
                team: { users: ["alice", "bob", "carol"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "approve"] }] },
              },
              pipelines: {
                release: {
                  approval: { required: 2 },
                  tasks: { stamp: { run: ["/bin/sh", "-c", "echo ran >> \(directory)/ran"] } },
                },
              },
            }
            """
        }
        defer { harness.shutdown() }
        let client = harness.client
        func post(_ path: String, as user: String, _ body: String = "{}") throws -> HTTPClient.Response {
            try client.postJSON("/sluice/api/v1" + path, body, as: user)
        }
        func state(_ id: Int) throws -> String? {
            try client.send("GET", "/sluice/api/v1/jobs/\(id)", as: "alice").jsonObject()["state"] as? String
        }
        let triggered = try post("/pipelines/release/jobs", as: "alice", #"{"params":{}}"#)
        #expect(triggered.status == 202)
        let id = try #require(try triggered.jsonObject()["id"] as? Int)
        #expect(try state(id) == "awaiting_approval")
        #expect(try post("/jobs/\(id)/approve", as: "alice").status == 403, "four eyes")
        #expect(try post("/jobs/\(id)/approve", as: "bob", #"{"comment":"ok"}"#).status == 200)
        // Nothing runs on one approval.
        try await Task.sleep(for: .milliseconds(500))
        #expect(!FileManager.default.fileExists(atPath: harness.directory + "/ran"))
        #expect(try post("/jobs/\(id)/approve", as: "carol").status == 200)
        _ = await Poll.until(within: .seconds(20), every: .milliseconds(100)) { (try? state(id)) == "succeeded" }
        #expect(try state(id) == "succeeded", "\(harness.logs().suffix(1500))")

        let second = try #require(try post("/pipelines/release/jobs", as: "bob", #"{"params":{}}"#).jsonObject()["id"] as? Int)
        #expect(try post("/jobs/\(second)/reject", as: "carol", #"{"comment":"not now"}"#).status == 200)
        #expect(try state(second) == "rejected")
        #expect(try String(contentsOfFile: harness.directory + "/ran", encoding: .utf8) == "ran\n", "the rejected job never ran")
    }
}
