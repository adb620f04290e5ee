import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// The small page fixes of issue 16: the Audit link, error pages that say who you are, denials
/// in English, the retry button of a cancelled job, the job list's combined states, and the
/// audit page's filters.
@Suite struct AppPageDetailsTests {
    /// AppDrainTests' configuration: aud audits everything, eve audits etl-*, bob and vera do not.
    static func harness() throws -> AppHarness { try AppHarness(config: AppDrainTests.config) }

    @Test("The navigation links to the audit log only for those who may read some of it")
    func auditLink() throws {
        let h = try Self.harness()
        defer { h.remove() }
        for (user, shows) in [("aud", true), ("eve", true), ("bob", false), ("vera", false)] {
            let page = AppHarness.text(h.send("GET", "/jobs", user: user))
            #expect(page.contains("href=\"/sluice/audit\">Audit</a>") == shows, "\(user)")
        }
    }

    @Test("A 404 or 403 page says who is signed in and links to who-am-I; a 401 page names nobody")
    func errorPagesNameTheUser() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let missing = h.send("GET", "/jobs/999", user: "vera")
        #expect(missing.status.code == 404)
        let text = AppHarness.text(missing)
        #expect(text.contains("signed in as <strong>vera</strong>") && text.contains("href=\"/sluice/whoami\">See what you may do</a>"))
        let job = try h.createJob()
        try h.writeLog(job, task: "extract", Array("hello\n".utf8))
        let forbidden = h.send("GET", "/jobs/\(job.id)/tasks/extract/log", user: "vera")
        #expect(forbidden.status.code == 403)
        #expect(AppHarness.text(forbidden).contains("signed in as <strong>vera</strong>"))
        let anonymous = h.send("GET", "/jobs/999", user: nil)
        #expect(anonymous.status.code == 401)
        #expect(!AppHarness.text(anonymous).contains("signed in as"))
        // The API's errors stay JSON.
        #expect(h.send("GET", "/api/v1/jobs/999", user: "vera").header("Content-Type")?.hasPrefix("application/json") == true)
    }

    @Test("A denial says what was refused in English: \"read the logs of\", not \"logs\"")
    func denialWording() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.writeLog(job, task: "extract", Array("hello\n".utf8))
        let response = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log", user: "vera")
        #expect(response.status.code == 403)
        let message = try #require(try AppHarness.jsonError(response)["message"] as? String)
        #expect(message == "you may not read the logs of etl-nightly")
        #expect(App.phrase(.trigger, "p") == "trigger p" && App.phrase(.cancel, "p") == "cancel jobs of p")
    }

    @Test("A cancelled job's retry button says it retries the unfinished tasks; a failed job's, the failed ones")
    func retryLabel() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let cancelled = try h.createJob()
        try h.finish(cancelled, as: .cancelled, jobState: .cancelled)
        let failed = try h.createJob()
        try h.finish(failed, as: .failed, jobState: .failed)
        let cancelledPage = AppHarness.text(h.send("GET", "/jobs/\(cancelled.id)", user: "bob"))
        #expect(cancelledPage.contains("Retry unfinished tasks") && !cancelledPage.contains("Retry failed tasks"))
        #expect(AppHarness.text(h.send("GET", "/jobs/\(failed.id)", user: "bob")).contains("Retry failed tasks"))
    }

    @Test("The job list keeps a combined state filter (state=failed,cancelled) selected")
    func combinedStates() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let page = AppHarness.text(h.send("GET", "/jobs?state=failed,cancelled", user: "bob"))
        #expect(page.contains("<option value=\"failed,cancelled\" selected>failed or cancelled</option>"), "\(page)")
        let other = AppHarness.text(h.send("GET", "/jobs?state=queued,failed", user: "bob"))
        #expect(other.contains("<option value=\"queued,failed\" selected>queued or failed</option>"))
        #expect(!other.contains("<option value=\"failed,cancelled\" selected>"))
    }

    @Test("The audit page filters by user, event, decision and pipeline; blank fields are no filter; older records page")
    func auditFilters() throws {
        let h = try Self.harness()
        defer { h.remove() }
        // Three refusals: vera may not trigger, twice; bob may not see `secret`.
        for _ in 0..<2 { _ = h.trigger(user: "vera") }
        _ = h.send("GET", "/api/v1/pipelines/secret", user: "bob")
        let all = AppHarness.text(h.send("GET", "/audit?pipeline=&user=&event=&decision=", user: "aud"))
        #expect(all.contains("<form method=\"get\" action=\"/sluice/audit\""))
        #expect(all.components(separatedBy: "<td>vera</td>").count - 1 == 2)
        #expect(all.contains("<td>bob</td>"))
        let vera = AppHarness.text(h.send("GET", "/audit?user=vera&decision=deny", user: "aud"))
        #expect(vera.contains("<td>vera</td>") && !vera.contains("<td>bob</td>"))
        #expect(vera.contains("<input id=\"a-user\" name=\"user\" value=\"vera\">"))
        #expect(vera.contains("<option value=\"deny\" selected>deny</option>"))
        let paged = AppHarness.text(h.send("GET", "/audit?user=vera&limit=1", user: "aud"))
        #expect(paged.components(separatedBy: "<td>vera</td>").count - 1 == 1)
        let older = try #require(paged.range(of: "href=\"/sluice/audit?").map { paged[$0.upperBound...].prefix { $0 != "\"" } })
        #expect(older.contains("user=vera") && older.contains("limit=1") && older.contains("before="))
        let next = AppHarness.text(h.send("GET", "/audit?" + String(older).replacingOccurrences(of: "&amp;", with: "&"), user: "aud"))
        #expect(next.components(separatedBy: "<td>vera</td>").count - 1 == 1)
        #expect(h.send("GET", "/audit?decision=maybe", user: "aud").status.code == 400)
    }

    @Test("A failed job's page opens with what failed: the message, the log's last lines with colours, links; no log without the logs verb")
    func failuresFirst() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        try h.store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .failed, exitCode: 3, message: "exited with status 3"),
                TaskChange(task: "load", state: .skipped),
            ], jobState: .failed)
        var log = (1...30).map { "step \($0)" }.joined(separator: "\n")
        log += "\n\u{1b}[31mError: <disk> full\u{1b}[0m\n"
        try h.writeLog(job, task: "extract", Array(log.utf8))
        let page = AppHarness.text(h.send("GET", "/jobs/\(job.id)", user: "bob"))
        let failures = try #require(page.range(of: "<h2 id=\"failures\">What failed</h2>"), "\(page)")
        #expect(page.range(of: "<h2>Parameters</h2>").map { failures.lowerBound < $0.lowerBound } == true, "before the parameters")
        #expect(page.contains("/jobs/\(job.id)#task-extract\">extract</a>") && page.contains("<p>exited with status 3</p>"))
        #expect(page.contains("<span class=\"t-f1\">Error: &lt;disk&gt; full</span>"))
        #expect(page.contains("step 30") && page.contains("step 12") && !page.contains("step 11<"), "the last 20 lines")
        #expect(page.contains("href=\"/sluice/jobs/\(job.id)/tasks/extract/log\">Full log</a>"))
        #expect(!page.contains("id=\"L1\""), "excerpts carry no line anchors")
        // vera may view but not read logs: the message, no excerpt.
        let viewer = AppHarness.text(h.send("GET", "/jobs/\(job.id)", user: "vera"))
        #expect(viewer.contains("What failed") && viewer.contains("exited with status 3") && !viewer.contains("Error: &lt;disk&gt;"))
        // A succeeded job has no such section.
        let fine = try h.createJob()
        try h.finish(fine)
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(fine.id)", user: "bob")).contains("What failed"))
    }

    @Test("The pipeline page shows recent runs × tasks, oldest run first, each cell linked and described")
    func runGrid() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let first = try h.createJob()
        try h.finish(first)
        let second = try h.createJob()
        try h.start(second, task: "extract")
        try h.store.record(
            jobID: second.id,
            changes: [TaskChange(task: "extract", state: .failed, exitCode: 1, message: "x"), TaskChange(task: "load", state: .skipped)],
            jobState: .failed)
        let page = AppHarness.text(h.send("GET", "/pipelines/etl-nightly", user: "bob"))
        let grid = try #require(page.range(of: "<h2 id=\"history\">Run history</h2>").map { String(page[$0.lowerBound...]) })
        let columns = try #require(grid.range(of: "#\(first.id)</a></th>")?.lowerBound)
        #expect(grid.range(of: "#\(second.id)</a></th>").map { columns < $0.lowerBound } == true, "oldest run on the left")
        #expect(grid.contains("<a class=\"cell state-succeeded\" href=\"/sluice/jobs/\(first.id)#task-extract\""))
        #expect(grid.contains("data-tip=\"extract in #\(second.id): failed"))
        #expect(grid.contains(">✗</a>") && grid.contains(">–</a>") && grid.contains(">✓</a>"), "marks that read without colour")
        // Nobody without view sees it (the pipeline is 404 for them).
        #expect(h.send("GET", "/pipelines/secret", user: "bob").status.code == 404)
    }

    @Test("A pipeline of more than 60 tasks shows only the tasks that did not always succeed")
    func runGridLargePipeline() throws {
        let tasks = (0..<70).map { "t\($0): { kind: \"noop\" }" }.joined(separator: ", ")
        let config = """
            {
              server: { base_path: "/sluice" },
              roles: { ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "logs"] }] } },
              pipelines: { wide: { tasks: { \(tasks) } } },
            }
            """
        let h = try AppHarness(config: config)
        defer { h.remove() }
        let job = try h.createJob(pipeline: "wide", params: [:])
        try h.store.record(
            jobID: job.id, changes: (0..<70).map { TaskChange(task: "t\($0)", state: $0 == 42 ? .failed : .succeeded) }, jobState: .failed)
        let page = AppHarness.text(h.send("GET", "/pipelines/wide", user: "bob"))
        #expect(page.contains("<tr><th>t42</th>") && !page.contains("<tr><th>t41</th>"))
        #expect(page.contains("69 tasks that succeeded in every run shown are left out."))
    }

    @Test("The job JSON pages through tasks: ?tasks= filters by state, task_limit and task_cursor page, task_counts count all")
    func taskPaging() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        func get(_ query: String) throws -> [String: Any] {
            let response = h.send("GET", "/api/v1/jobs/\(job.id)?\(query)", user: "bob")
            #expect(response.status.code == 200, "\(query)")
            return try AppHarness.json(response)
        }
        func names(_ object: [String: Any]) -> [String] { (object["tasks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } }
        let running = try get("tasks=running")
        #expect(names(running) == ["extract"])
        #expect(running["task_counts"] as? [String: Int] == ["running": 1, "queued": 1])
        #expect((running["task_page"] as? [String: Any])?["matching"] as? Int == 1)
        #expect((running["task_page"] as? [String: Any])?["next_cursor"] == nil)
        let first = try get("task_limit=1")
        #expect(names(first) == ["extract"] && (first["task_page"] as? [String: Any])?["next_cursor"] as? Int == 1)
        #expect(names(try get("task_limit=1&task_cursor=1")) == ["load"])
        #expect(names(try get("task_cursor=5")).isEmpty)
        #expect(names(try get("tasks=failed,cancelled")).isEmpty)
        // Without paging parameters the JSON is as before: no counts, every task.
        let plain = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)", user: "bob"))
        #expect(plain["task_counts"] == nil && names(plain) == ["extract", "load"])
        for bad in ["tasks=done", "tasks=", "task_limit=0", "task_limit=10001", "task_cursor=-1", "tasks=running&wait=61"] {
            #expect(h.send("GET", "/api/v1/jobs/\(job.id)?\(bad)", user: "bob").status.code == 400, "\(bad)")
        }
    }

    @Test("A 100,000-task job's page stays under 200 KB: 200 task rows, failed ones first, and a link to the paged JSON")
    func hugeJobPage() throws {
        let tasks = (0..<100_000).map { "t\($0): { kind: \"noop\" }" }.joined(separator: ", ")
        let config = """
            {
              server: { base_path: "/sluice" },
              roles: { ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "logs"] }] } },
              pipelines: { huge: { tasks: { \(tasks) } } },
            }
            """
        let h = try AppHarness(config: config)
        defer { h.remove() }
        let job = try h.createJob(pipeline: "huge", params: [:])
        try h.store.record(
            jobID: job.id, changes: [TaskChange(task: "t99999", state: .failed, exitCode: 1, message: "broke")], jobState: .running)
        let response = h.send("GET", "/jobs/\(job.id)", user: "bob")
        #expect(response.status.code == 200)
        #expect(response.body.count < 200 << 10, "\(response.body.count) bytes")
        let page = AppHarness.text(response)
        #expect(page.components(separatedBy: "<tr id=\"task-").count - 1 == 200)
        let table = try #require(page.range(of: "<h2 id=\"tasks\">").map { String(page[$0.upperBound...]) })
        #expect(
            table.range(of: "<tr id=\"task-t99999\">").map { $0.lowerBound < table.range(of: "<tr id=\"task-t0\">")!.lowerBound } == true)
        #expect(page.contains("The first 200 of 100000 tasks are listed"))
        #expect(page.contains("What failed") && page.contains("broke"))
    }
}
