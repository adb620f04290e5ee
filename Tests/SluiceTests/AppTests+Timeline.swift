import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// Issue 16's truthful timeline and the ways into a large job's tasks: every attempt and the
/// waits between them, a large job's timeline grouped by layer, `?layer=` pages, and links from
/// the graph's boxes and from "What failed".
@Suite struct AppTimelineTests {
    /// A configuration with `flaky` (one task, 3 attempts) and `layered` (`width` tasks in each of
    /// `depth` layers, every task needing one of the layer before).
    static func config(width: Int, depth: Int) -> String {
        var tasks: [String] = []
        for layer in 0..<depth {
            for i in 0..<width {
                let needs = layer == 0 ? "" : ", needs: [\"l\(layer - 1)t\(i)\"]"
                tasks.append("l\(layer)t\(i): { kind: \"noop\"\(needs) }")
            }
        }
        return """
            {
              server: { base_path: "/sluice" },
              roles: { ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "logs", "retry"] }] } },
              pipelines: {
                flaky: { tasks: { fetch: { run: ["./fetch"], retries: 2 } } },
                layered: { tasks: { \(tasks.joined(separator: ", ")) } },
              },
            }
            """
    }

    @Test("The timeline draws every attempt, the waits between them and the wait for the next, from the job's start")
    func everyAttempt() throws {
        let h = try AppHarness(config: Self.config(width: 1, depth: 1))
        defer { h.remove() }
        let job = try h.createJob(pipeline: "flaky", params: [:])
        let store = h.store
        try store.record(jobID: job.id, changes: [TaskChange(task: "fetch", state: .running, pid: 1)], jobState: .running)
        try store.record(
            jobID: job.id,
            changes: [TaskChange(task: "fetch", state: .queued, exitCode: 75, message: "exited with status 75", retryAt: Date())],
            jobState: .running)
        usleep(30_000)  // the store keeps milliseconds: a wait of zero would not be drawn
        try store.record(jobID: job.id, changes: [TaskChange(task: "fetch", state: .running, pid: 2)], jobState: .running)
        let retryAt = Date().addingTimeInterval(3600)
        try store.record(
            jobID: job.id,
            changes: [TaskChange(task: "fetch", state: .queued, exitCode: 1, message: "exited with <status> 1", retryAt: retryAt)],
            jobState: .running)
        let page = AppHarness.text(h.send("GET", "/jobs/\(job.id)", user: "bob"))
        let timeline = try #require(
            page.range(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\"").map { String(page[$0.lowerBound...]) })
        #expect(timeline.contains("fetch — attempt 1 of 3: failed (exited with status 75), 0 s to "))
        #expect(timeline.contains("fetch — attempt 2 of 3: failed (exited with &lt;status&gt; 1)"))
        #expect(timeline.contains("fetch — waited ") && timeline.contains(" before attempt 2</title>"))
        // The hour-long wait for attempt 3 is drawn as a wait, and it sets the axis.
        #expect(
            timeline.contains("fetch — waiting to retry: attempt 3 of 3 at 1 h")
                || timeline.contains("fetch — waiting to retry: attempt 3 of 3 at 59 min"))
        #expect(timeline.contains(">1 h</text>") || timeline.contains(">60 min</text>"))
        #expect(
            !timeline.contains("class=\"timeline\"") || timeline.components(separatedBy: "fill=\"#cce5ff\"").count == 1,
            "nothing is drawn as running")

        // The JSON says the same.
        let json = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)", user: "bob"))
        let task = try #require((json["tasks"] as? [[String: Any]])?.first)
        #expect(task["attempt"] as? Int == 2)
        let past = try #require(task["past_attempts"] as? [[String: Any]])
        #expect(past.count == 1)
        #expect(
            past.first?["attempt"] as? Int == 1 && past.first?["state"] as? String == "failed" && past.first?["exit_code"] as? Int == 75)
        #expect(
            past.first?["message"] as? String == "exited with status 75" && past.first?["started_at"] is String
                && past.first?["finished_at"] is String)
    }

    @Test("A large job's timeline has one row per layer, each linking to a page of that layer's tasks")
    func groupedByLayer() throws {
        let h = try AppHarness(config: Self.config(width: 20, depth: 3))
        defer { h.remove() }
        let job = try h.createJob(pipeline: "layered", params: [:])
        try h.store.record(
            jobID: job.id,
            changes: (0..<20).map { TaskChange(task: "l0t\($0)", state: .succeeded, exitCode: 0) }
                + [TaskChange(task: "l1t3", state: .running, pid: 7)], jobState: .running)
        let page = AppHarness.text(h.send("GET", "/jobs/\(job.id)", user: "bob"))
        #expect(page.contains("<title id=\"job-timeline-title\">Timeline (by layer)</title>"))
        for layer in 1...3 {
            #expect(page.contains("<a href=\"/sluice/jobs/\(job.id)?layer=\(layer)#tasks\"><text "), "layer \(layer) links to its tasks")
        }
        #expect(page.contains("Layer 1 · 20 tasks · 20 succeeded · 0 s to "))
        #expect(page.contains("Layer 2 · 20 tasks · 1 running, 19 queued · since "))
        #expect(page.contains("Layer 3 · 20 tasks · 20 queued · not started"))
        #expect(!page.contains("<title>l0t1 — succeeded, "), "no timeline row per task")

        // The layer's page: its 20 tasks in the table and, one row each, in the timeline.
        let layer = h.send("GET", "/jobs/\(job.id)?layer=2", user: "bob")
        #expect(layer.status.code == 200)
        let text = AppHarness.text(layer)
        #expect(text.contains("Layer 2 of 3: 20 tasks. <a href=\"/sluice/jobs/\(job.id)#tasks\">All tasks</a>"))
        #expect(text.components(separatedBy: "<tr id=\"task-").count - 1 == 20)
        #expect(
            text.contains("<tr id=\"task-l1t0\">") && !text.contains("<tr id=\"task-l0t0\">") && !text.contains("<tr id=\"task-l2t0\">"))
        #expect(text.contains("<title>l1t3 — running, since "))
        #expect(!text.contains("Timeline (by layer)"))
        let run = AppHarness.text(h.send("GET", "/jobs/\(job.id)?layer=2-3", user: "bob"))
        #expect(run.contains("Layers 2-3 of 3: 40 tasks."))
    }

    @Test(
        "A ?layer= that names no layer of the job is a 400 that says what is allowed",
        arguments: ["0", "4", "3-2", "", "x", "+2", "2-", "-2", "1-2-3", "２", "99999999999999999999", "1 "])
    func badLayer(_ value: String) throws {
        let h = try AppHarness(config: Self.config(width: 20, depth: 3))
        defer { h.remove() }
        let job = try h.createJob(pipeline: "layered", params: [:])
        let response = h.send("GET", "/jobs/\(job.id)?layer=\(FormEncoder.encode(value))", user: "bob")
        #expect(response.status.code == 400, "\(value)")
        #expect(AppHarness.text(response).contains("layer must name layers of this job"))
    }

    @Test("A collapsed graph's boxes link to their layer's tasks; What failed links to the failed task in the graph")
    func graphLinks() throws {
        let h = try AppHarness(config: Self.config(width: 100, depth: 3))
        defer { h.remove() }
        let job = try h.createJob(pipeline: "layered", params: [:])
        try h.store.record(
            jobID: job.id, changes: [TaskChange(task: "l0t5", state: .running, pid: 1)], jobState: .running)
        try h.store.record(
            jobID: job.id, changes: [TaskChange(task: "l0t5", state: .failed, exitCode: 2, message: "broke")], jobState: .running)
        let page = AppHarness.text(h.send("GET", "/jobs/\(job.id)", user: "bob"))
        for layer in 1...3 {
            #expect(
                page.contains(
                    "<a href=\"/sluice/jobs/\(job.id)?layer=\(layer)#tasks\" aria-label=\"Layer \(layer) · 100 tasks, its tasks\">"))
        }
        #expect(page.contains("<a href=\"/sluice/jobs/\(job.id)?layer=1#tasks\">In the graph</a>"))

        // A graph drawn task by task: the link goes to the task's own box.
        let small = try AppHarness(config: Self.config(width: 2, depth: 2))
        defer { small.remove() }
        let smallJob = try small.createJob(pipeline: "layered", params: [:])
        try small.store.record(
            jobID: smallJob.id, changes: [TaskChange(task: "l1t1", state: .failed, exitCode: 2, message: "broke")], jobState: .failed)
        let smallPage = AppHarness.text(small.send("GET", "/jobs/\(smallJob.id)", user: "bob"))
        let index = try #require(smallJob.tasks.firstIndex { $0.name == "l1t1" })
        #expect(smallPage.contains("<a href=\"#job-graph-task-\(index)\">In the graph</a>"))
        #expect(smallPage.contains("id=\"job-graph-task-\(index)\""))
    }
}
