import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

extension AppTests {
    @Test("The job page shows the task graph and timeline, live-follows a running job, and masks secrets")
    func jobPageViews() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        let live = AppHarness.text(h.send("GET", "/jobs/\(job.id)"))
        #expect(live.contains("<svg") && live.contains("class=\"task-graph\""))
        #expect(live.contains("class=\"timeline\""), "a started task gives a timeline")
        #expect(live.contains("data-live-job=\"/sluice/api/v1/jobs/\(job.id)\""))
        #expect(live.contains("<noscript><meta http-equiv=\"refresh\""))
        try h.finish(job)
        let done = AppHarness.text(h.send("GET", "/jobs/\(job.id)"))
        #expect(!done.contains("data-live-job") && !done.contains("http-equiv=\"refresh\""))
    }

    @Test("Every answer carries the security headers; pages get a CSP without inline code")
    func securityHeaders() throws {
        let h = try AppHarness()
        defer { h.remove() }
        for path in ["/", "/api/v1/jobs", "/static/app.js", "/no/such/page", "/api/v1/nope"] {
            let response = h.send("GET", path)
            #expect(response.header("X-Content-Type-Options") == "nosniff", "\(path)")
            #expect(response.header("X-Frame-Options") == "DENY", "\(path)")
            #expect(response.header("Referrer-Policy") == "same-origin", "\(path)")
        }
        let page = h.send("GET", "/")
        let csp = try #require(page.header("Content-Security-Policy"))
        #expect(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && csp.contains("style-src 'self'"))
        #expect(!csp.contains("unsafe-inline"))
        #expect(h.send("GET", "/api/v1/jobs").header("Content-Security-Policy")?.contains("default-src 'none'") == true)
    }

    @Test("The stylesheet and script are served with a long cache life; unknown assets are 404")
    func staticAssets() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let css = h.send("GET", "/static/app.css")
        #expect(css.status.code == 200 && css.header("Content-Type")?.hasPrefix("text/css") == true)
        #expect(css.header("Cache-Control")?.contains("immutable") == true)
        let js = h.send("GET", "/static/app.js")
        #expect(js.status.code == 200 && js.header("Content-Type")?.hasPrefix("text/javascript") == true)
        #expect(AppHarness.text(js).contains("data-live-job"))
        #expect(h.send("GET", "/static/..%2Fsluice.db").status.code == 404)
        #expect(h.send("GET", "/static/other.js").status.code == 404)
    }

    @Test("GET answers carry an ETag; If-None-Match with it gives an empty 304, with another tag a 200")
    func conditionalGet() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let first = h.send("GET", "/api/v1/jobs/\(job.id)")
        let tag = try #require(first.header("ETag"))
        let again = h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": tag])
        #expect(again.status.code == 304 && again.body.isEmpty)
        #expect(again.header("ETag") == tag)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": "W/\(tag)"]).status.code == 304)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": "\"other\", \(tag)"]).status.code == 304)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": "\"other\""]).status.code == 200)
        try h.start(job, task: "extract")
        let changed = h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": tag])
        #expect(changed.status.code == 200 && changed.header("ETag") != tag)
    }

    @Test("?wait long-polls until the job changes, answers 304 at the deadline, and refuses bad values")
    func longPoll() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let tag = try #require(h.send("GET", "/api/v1/jobs/\(job.id)").header("ETag"))
        // Unchanged: waits about a second, then 304.
        let start = ContinuousClock.now
        let unchanged = h.send("GET", "/api/v1/jobs/\(job.id)?wait=1", params: ["HTTP_IF_NONE_MATCH": tag])
        #expect(unchanged.status.code == 304)
        #expect(ContinuousClock.now - start >= .milliseconds(900))
        // A change committed while the request waits wakes it at once.
        let waiter = h.sendOnThread("/api/v1/jobs/\(job.id)?wait=20", params: ["HTTP_IF_NONE_MATCH": tag])
        usleep(300_000)
        try h.start(job, task: "extract")
        h.app.changes.notify(job.id)
        let woken = waiter.value()
        #expect(woken.status.code == 200)
        #expect(AppHarness.text(woken).contains("\"state\":\"running\""))
        for bad in ["-1", "61", "x", "1.5"] {
            #expect(h.send("GET", "/api/v1/jobs/\(job.id)?wait=\(bad)").status.code == 400, "wait=\(bad)")
        }
    }

    @Test("?wait with a page of tasks compares that page: a change of another task's state wakes it through task_counts")
    func pagedLongPoll() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        let first = h.send("GET", "/api/v1/jobs/\(job.id)?task_limit=1&tasks=queued")
        let tag = try #require(first.header("ETag"))
        #expect(AppHarness.text(first).contains("\"task_counts\":{\"queued\":1,\"running\":1}"))
        // A retry that starts at once leaves the page and the counts as they were; the attempts
        // started still change, and wake the poll.
        let retrying = h.sendOnThread("/api/v1/jobs/\(job.id)?wait=20&task_limit=1&tasks=queued", params: ["HTTP_IF_NONE_MATCH": tag])
        usleep(300_000)
        try h.store.record(
            jobID: job.id,
            changes: [
                TaskChange(task: "extract", state: .queued, exitCode: 75, message: "retry", retryAt: Date()),
                TaskChange(task: "extract", state: .running, pid: 4343),
            ], jobState: .running)
        h.app.changes.notify(job.id)
        let retried = retrying.value()
        #expect(retried.status.code == 200 && retried.header("ETag") != tag)
        #expect(AppHarness.text(retried).contains("\"task_counts\":{\"queued\":1,\"running\":1}"))
        #expect(AppHarness.text(retried).contains("\"attempts\":2"))
        let retriedTag = try #require(retried.header("ETag"))
        // The page (the queued task "load") does not change; the counts do when "extract" ends.
        let waiter = h.sendOnThread(
            "/api/v1/jobs/\(job.id)?wait=20&task_limit=1&tasks=queued", params: ["HTTP_IF_NONE_MATCH": retriedTag])
        usleep(300_000)
        try h.store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)
        h.app.changes.notify(job.id)
        let woken = waiter.value()
        #expect(woken.status.code == 200 && woken.header("ETag") != retriedTag)
        let text = AppHarness.text(woken)
        #expect(text.contains("\"task_counts\":{\"queued\":1,\"succeeded\":1}"), "\(text)")
        #expect(text.contains("\"name\":\"load\"") && !text.contains("\"name\":\"extract\""), "only the page's task")
        // Unchanged: 304 at the deadline, as without paging.
        let unchanged = h.send(
            "GET", "/api/v1/jobs/\(job.id)?wait=1&task_limit=1&tasks=queued", params: ["HTTP_IF_NONE_MATCH": woken.header("ETag") ?? ""])
        #expect(unchanged.status.code == 304)
    }

    @Test("A long-poll beyond the waiter limit is a 503 with Retry-After, never a 304 that looks like a timeout")
    func longPollOverCapacity() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let app = App(configuration: h.configuration, store: h.store, runner: nil, changes: JobChanges(maxWatchers: 0))
        let tag = try #require(h.send("GET", "/api/v1/jobs/\(job.id)").header("ETag"))
        let request = HTTPRequest(
            method: "GET", requestURI: "/sluice/api/v1/jobs/\(job.id)?wait=5", scriptName: "/sluice",
            params: ["REMOTE_USER": "bob", "HTTP_IF_NONE_MATCH": tag])
        let start = ContinuousClock.now
        let response = AppHarness.answer(app.respond(to: request))
        #expect(response.status.code == 503)
        #expect(response.header("Retry-After") == "2")
        #expect(ContinuousClock.now - start < .seconds(4))
        // Without a baseline to wait on (the job differs from If-None-Match) it still answers 200.
        let fresh = AppHarness.answer(
            app.respond(
                to: HTTPRequest(
                    method: "GET", requestURI: "/sluice/api/v1/jobs/\(job.id)?wait=5", scriptName: "/sluice",
                    params: ["REMOTE_USER": "bob", "HTTP_IF_NONE_MATCH": "\"other\""])))
        #expect(fresh.status.code == 200)
    }

    @Test("The job list filters by state, user and time, sorts oldest first, and pages with a cursor")
    func jobListFilters() throws {
        let h = try AppHarness()
        defer { h.remove() }
        var ids: [Int64] = []
        for i in 0..<5 { ids.append(try h.createJob(by: i % 2 == 0 ? "bob" : "vera").id) }
        try h.finish(try #require(try h.store.job(id: ids[0])))
        func list(_ query: String) throws -> [String: Any] {
            let response = h.send("GET", "/api/v1/jobs?\(query)")
            #expect(response.status.code == 200, "\(query)")
            return try AppHarness.json(response)
        }
        func idsOf(_ json: [String: Any]) -> [Int64] {
            ((json["jobs"] as? [[String: Any]]) ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
        }
        #expect(idsOf(try list("state=succeeded")) == [ids[0]])
        #expect(idsOf(try list("state=queued,succeeded")).count == 5)
        #expect(idsOf(try list("user=vera")) == [ids[3], ids[1]])
        #expect(idsOf(try list("sort=oldest&limit=2")) == [ids[0], ids[1]])
        let page = try list("sort=oldest&limit=2")
        let next = try #require((page["next_after"] as? NSNumber)?.int64Value)
        #expect(idsOf(try list("sort=oldest&limit=2&after=\(next)")) == [ids[2], ids[3]])
        #expect(idsOf(try list("from=2000-01-01&until=2999-01-01")).count == 5)
        #expect(idsOf(try list("from=2999-01-01")).isEmpty)
        for bad in ["state=bogus", "sort=duration", "from=yesterday", "after=0", "until=2024-13-01"] {
            #expect(h.send("GET", "/api/v1/jobs?\(bad)").status.code == 400, "\(bad)")
        }
        let html = AppHarness.text(h.send("GET", "/jobs?user=vera&limit=1"))
        #expect(html.contains("rel=\"next\" href=\"/sluice/jobs?user=vera&amp;limit=1&amp;before=\(ids[3])\""))
    }

    @Test("The OpenAPI document is served without identity")
    func openAPIServed() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.send("GET", "/api/v1/openapi.json", user: nil)
        #expect(response.status.code == 200)
        #expect(AppHarness.text(response).contains("\"openapi\": \"3.1.0\""))
    }
}
