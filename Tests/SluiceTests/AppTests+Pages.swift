import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

extension AppTests {
    static let script = "<script>alert(1)</script>"
    static let img = "\"><img src=x onerror=alert(1)>"

    @Test("The dashboard lists visible pipelines with escaped descriptions and recent jobs")
    func dashboard() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.createJob(pipeline: "secret", by: "sam", params: [:])
        let response = h.send("GET", "/")
        #expect(response.status.code == 200)
        AppHarness.expectHTML(response)
        let html = AppHarness.text(response)
        #expect(html.contains("etl-nightly"))
        #expect(!html.contains(">secret<"))
        #expect(html.contains("Load &lt;b&gt;orders&lt;/b&gt;"))
        #expect(!html.contains("<b>orders"))
        #expect(html.contains("href=\"/sluice/jobs/\(job.id)\""))
        #expect(html.contains("<span class=\"who\">bob</span>"))
    }

    @Test("A hostile user name is escaped wherever it is shown")
    func hostileUserName() throws {
        let h = try AppHarness()
        defer { h.remove() }
        for user in [Self.script, Self.img] {
            let html = AppHarness.text(h.send("GET", "/", user: user))
            #expect(!html.contains("<script>"))
            #expect(!html.contains("<img"))
            #expect(html.contains("You may not see any pipeline."))
        }
        let notFound = AppHarness.text(h.send("GET", "/nowhere", user: Self.img))
        // Error pages show no user name at all (the error may be that the name was refused).
        #expect(!notFound.contains("<img"))
        #expect(!notFound.contains("onerror"))
    }

    @Test("The job page escapes hostile parameter values and the triggering user")
    func jobPageEscapes() throws {
        let h = try AppHarness(
            config: AppHarness.configuration().replacingOccurrences(
                of: #"users: ["bob"]"#, with: #"users: ["bob", "\"><img src=x onerror=alert(1)>"]"#))
        defer { h.remove() }
        let trigger = h.trigger(
            #"{"params": {"date": "<script>alert(1)</script>", "env": "\"><img src=x onerror=alert(1)>"}}"#, user: Self.img)
        #expect(trigger.status.code == 202)
        let id = try #require(try AppHarness.json(trigger)["id"] as? Int)
        for user in ["bob", Self.img] {
            let response = h.send("GET", "/jobs/\(id)", user: user)
            #expect(response.status.code == 200)
            let html = AppHarness.text(response)
            #expect(!html.contains("<script>"))
            #expect(!html.contains("<img"))
            #expect(html.contains("<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>"))
            #expect(html.contains("<code>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</code>"))
        }
    }

    @Test("The job list page escapes a hostile pipeline filter in its title")
    func jobListTitle() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.send("GET", "/jobs?pipeline=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cimg")
        #expect(response.status.code == 200)
        let html = AppHarness.text(response)
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<img"))
        #expect(html.contains("Jobs of &lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img"))
        #expect(html.contains("No jobs yet."))
    }

    @Test("The job page refreshes only while the job is live")
    func jobPageRefresh() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        #expect(AppHarness.text(h.send("GET", "/jobs/\(job.id)")).contains("http-equiv=\"refresh\""))
        try h.finish(job, as: .failed, jobState: .failed)
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(job.id)")).contains("http-equiv=\"refresh\""))
    }

    @Test("The job page links a started task's log only for users with the logs verb")
    func jobPageLogLinks() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        let link = "href=\"/sluice/jobs/\(job.id)/tasks/extract/log\""
        let bob = AppHarness.text(h.send("GET", "/jobs/\(job.id)"))
        #expect(bob.contains(link))
        // load has not started: no log link for it.
        #expect(!bob.contains("/tasks/load/log"))
        let vera = h.send("GET", "/jobs/\(job.id)", user: "vera")
        #expect(vera.status.code == 200)
        #expect(!AppHarness.text(vera).contains("/log\""))
    }

    @Test("Durations read in seconds, minutes or hours, and are empty before the start")
    func durations() {
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(App.duration(nil, nil) == "")
        #expect(App.duration(nil, start) == "")
        #expect(App.duration(start, start.addingTimeInterval(1.5)) == "1.5 s")
        #expect(App.duration(start, start.addingTimeInterval(184)) == "3 min 4 s")
        #expect(App.duration(start, start.addingTimeInterval(7_500)) == "2 h 5 min")
        #expect(App.duration(start, start.addingTimeInterval(-5)) == "0.0 s")
    }

    @Test(
        "A duration just under a minute never reads as 60.0 s")
    func durationRounding() {
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(App.duration(start, start.addingTimeInterval(59.99)) != "60.0 s")
    }

    @Test("Times read as UTC without fractions")
    func times() {
        #expect(App.time(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00 UTC")
        #expect(App.time(Date(timeIntervalSince1970: 1_700_000_000.9)) == "2023-11-14 22:13:20 UTC")
    }
}
