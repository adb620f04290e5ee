import Foundation
import JobStore
import Pages
import SQLite
import Testing

@testable import Sluice

/// A large finished job's page drawn from the overview its store kept (`JobOverview`) rather than
/// from all its tasks: the same page, authorized the same way.
@Suite struct AppOverviewTests {
    /// A 400-task job (4 layers of 100, more than a graph draws one by one) that failed: a task
    /// retried, one failed with a message, their dependents skipped.
    static func failedLargeJob(_ h: AppHarness, layers: Bool = true) throws -> JobRecord {
        let job = try h.createJob(pipeline: "layered", params: [:], layers: layers)
        let store = h.store
        try store.record(jobID: job.id, changes: (0..<100).map { TaskChange(task: "l0t\($0)", state: .succeeded) }, jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "l1t7", state: .running, pid: 10)], jobState: .running)
        try store.record(
            jobID: job.id, changes: [TaskChange(task: "l1t7", state: .queued, exitCode: 1, message: "flaky", retryAt: Date())],
            jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "l1t7", state: .running, pid: 11)], jobState: .running)
        try store.record(
            jobID: job.id,
            changes: [TaskChange(task: "l1t7", state: .failed, exitCode: 3, message: "broke <b>here</b>")]
                + (0..<100).filter { $0 != 7 }.map { TaskChange(task: "l1t\($0)", state: .succeeded) }
                + (2..<4).flatMap { layer in (0..<100).map { TaskChange(task: "l\(layer)t\($0)", state: $0 == 7 ? .skipped : .succeeded) } },
            jobState: .failed)
        return try #require(try h.store.job(id: job.id))
    }

    /// The page without its CSRF tokens, which carry the second they were made in.
    static func page(_ h: AppHarness, _ path: String) -> String {
        let text = AppHarness.text(h.send("GET", path, user: "bob"))
        return text.replacing(/name="csrf" value="[^"]*"/, with: "name=\"csrf\"")
    }

    @Test("A large finished job's page is drawn from its kept overview, and is the page drawn from all its tasks")
    func sameAsFromAllTasks() throws {
        let h = try AppHarness(config: AppTimelineTests.config(width: 100, depth: 4))
        defer { h.remove() }
        let job = try Self.failedLargeJob(h)
        let overview = try #require(try h.store.jobOverview(id: job.id), "kept when the job finished")
        #expect(overview.taskCount == 400 && overview.failedCount == 1)

        let fromOverview = Self.page(h, "/jobs/\(job.id)")
        #expect(fromOverview.contains("What failed") && fromOverview.contains("broke &lt;b&gt;here&lt;/b&gt;"))
        #expect(fromOverview.contains("/sluice/jobs/\(job.id)?layer=2#tasks"), "the failure links to its layer")
        #expect(fromOverview.contains("<tr id=\"task-l1t7\">"))
        #expect(fromOverview.contains("400 tasks in 4 layers"))

        // The page reads what the store kept: a changed count shows.
        let db = try Connection(path: h.directory.file("jobs.db"))
        try db.run("UPDATE job_overviews SET overview = replace(overview, '\"tasks\":400', '\"tasks\":401')")
        #expect(Self.page(h, "/jobs/\(job.id)").contains("of 401 tasks"))

        // Without it, the page is drawn from every task, and is the same page.
        try db.run("DELETE FROM job_overviews")
        #expect(try h.store.jobOverview(id: job.id) == nil)
        let fromTasks = Self.page(h, "/jobs/\(job.id)")
        #expect(fromTasks == fromOverview)
    }

    @Test("A large job created without layers (by an earlier version) still gets its grouped page, from all its tasks")
    func withoutLayers() throws {
        let h = try AppHarness(config: AppTimelineTests.config(width: 100, depth: 4))
        defer { h.remove() }
        let job = try Self.failedLargeJob(h, layers: false)
        #expect(try h.store.jobOverview(id: job.id) == nil)
        #expect(job.tasks.allSatisfy { $0.layer == nil })
        let page = Self.page(h, "/jobs/\(job.id)")
        #expect(page.contains("What failed") && page.contains("/sluice/jobs/\(job.id)?layer=2#tasks"))
        #expect(page.contains("400 tasks in 4 layers"))
        // The grouped timeline: one row per layer, each linking to its tasks.
        let timeline = try #require(page.range(of: "job-timeline-title").map { String(page[$0.lowerBound...]) })
        for layer in 1...4 { #expect(timeline.contains("/sluice/jobs/\(job.id)?layer=\(layer)#tasks")) }
    }

    @Test("A kept overview is authorized like the job: hidden from who may not view it, not found for a missing id")
    func authorized() throws {
        let h = try AppHarness(config: AppTimelineTests.config(width: 100, depth: 4))
        defer { h.remove() }
        let job = try Self.failedLargeJob(h)
        #expect(h.send("GET", "/jobs/\(job.id)", user: "mallory").status.code == 404)
        #expect(h.send("GET", "/jobs/\(job.id + 1)", user: "bob").status.code == 404)
        #expect(h.send("GET", "/jobs/\(job.id)", user: "bob").status.code == 200)
    }

    @Test("An overview that cannot be read is passed over: the page is drawn from all tasks, and hidden jobs stay hidden")
    func unreadableOverview() throws {
        let h = try AppHarness(config: AppTimelineTests.config(width: 100, depth: 4))
        defer { h.remove() }
        let job = try Self.failedLargeJob(h)
        let db = try Connection(path: h.directory.file("jobs.db"))
        for bad in ["{", "{\"tasks\":400,\"failed\":1,\"tallies\":[],\"ranked\":[\"no-such-task\"]}"] {
            try db.run("UPDATE job_overviews SET overview = ?", [.text(bad)])
            #expect(throws: (any Error).self) { try h.store.jobOverview(id: job.id) }
            let page = Self.page(h, "/jobs/\(job.id)")
            #expect(page.contains("What failed") && page.contains("400 tasks in 4 layers"))
            #expect(h.send("GET", "/jobs/\(job.id)", user: "mallory").status.code == 404)
        }
        #expect(JobOverview.rankedLimit >= Pages.taskRowsShown, "an overview holds every row the table shows")
    }

    @Test("A trigger stores the layers of a large pipeline's tasks, not of a small one's")
    func triggerStoresLayers() throws {
        let config = AppTimelineTests.config(width: 100, depth: 4).replacingOccurrences(of: "\"retry\"", with: "\"retry\", \"trigger\"")
        let h = try AppHarness(config: config)
        defer { h.remove() }
        for (pipeline, large) in [("layered", true), ("flaky", false)] {
            let response = h.trigger("{}", pipeline: pipeline)
            #expect(response.status.code == 202)
            let id = try #require(try h.store.jobs(JobQuery(pipelines: [pipeline])).first?.id)
            let tasks = try #require(try h.store.job(id: id)?.tasks)
            if large {
                #expect(tasks.map(\.layer) == (0..<400).map { $0 / 100 })
            } else {
                #expect(tasks.allSatisfy { $0.layer == nil })
            }
        }
    }
}
