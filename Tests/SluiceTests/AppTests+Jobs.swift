import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

extension AppTests {
    @Test("GET job returns its JSON with tasks and links under the mount path")
    func showJob() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let id = try #require(try AppHarness.json(h.trigger())["id"] as? Int)
        let response = h.send("GET", "/api/v1/jobs/\(id)")
        #expect(response.status.code == 200)
        let json = try AppHarness.json(response)
        #expect(json["id"] as? Int == id)
        #expect(json["pipeline"] as? String == "etl-nightly")
        #expect(json["state"] as? String == "queued")
        #expect(json["triggered_by"] as? String == "bob")
        #expect(json["identity_source"] as? String == "remote_user")
        #expect(json["params"] as? [String: String] == ["date": "2024-05-01", "env": "staging"])
        #expect(json["cancel_requested"] as? Bool == false)
        #expect((json["created_at"] as? String)?.hasSuffix("Z") == true)
        #expect(json["started_at"] == nil)
        #expect(json["links"] as? [String: String] == ["self": "/sluice/api/v1/jobs/\(id)", "html": "/sluice/jobs/\(id)"])
        let tasks = try #require(json["tasks"] as? [[String: Any]])
        #expect(tasks.map { $0["name"] as? String } == ["extract", "load"])
        #expect(tasks.map { $0["state"] as? String } == ["queued", "queued"])
        #expect(tasks[1]["needs"] as? [String] == ["extract"])
        #expect(tasks.allSatisfy { $0["argv"] == nil })
    }

    @Test("A malformed, zero, negative or overflowing job id is 404", arguments: ["abc", "0", "-1", "1.0", "0x1", "99999999999999999999", "%31%2F", "1%00"])
    func badJobID(id: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        try h.createJob()
        let response = h.send("GET", "/api/v1/jobs/\(id)")
        #expect(response.status.code == 404)
        _ = try AppHarness.jsonError(response)
    }

    @Test("A percent-encoded job id is decoded")
    func encodedJobID() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        #expect(h.send("GET", "/api/v1/jobs/%3\(job.id)").status.code == 200)
    }

    @Test("A job of a pipeline the user may not view is 404 everywhere")
    func hiddenJob() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob(pipeline: "secret", by: "sam", params: [:])
        try h.writeLog(job, task: "only", Array("secret output".utf8))
        for (method, path) in [
            ("GET", "/api/v1/jobs/\(job.id)"), ("POST", "/api/v1/jobs/\(job.id)/cancel"), ("GET", "/api/v1/jobs/\(job.id)/tasks/only/log"),
            ("GET", "/jobs/\(job.id)"), ("GET", "/jobs/\(job.id)/tasks/only/log"),
        ] {
            let response = h.send(method, path)
            #expect(response.status.code == 404, "\(method) \(path)")
            #expect(!AppHarness.text(response).contains("secret output"))
        }
        #expect(try h.store.job(id: job.id)?.cancelRequested == false)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", user: "sam").status.code == 200)
    }

    @Test(
        "A hidden job is indistinguishable from a missing one")
    func hiddenJobLooksMissing() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob(pipeline: "secret", by: "sam", params: [:])
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)").body == h.send("GET", "/api/v1/jobs/\(job.id + 1000)").body)
    }

    @Test("The job list shows only jobs of visible pipelines, newest first")
    func listVisibleOnly() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let a = try h.createJob()
        try h.createJob(pipeline: "secret", by: "sam", params: [:])
        let c = try h.createJob(by: "vera")
        let json = try AppHarness.json(h.send("GET", "/api/v1/jobs"))
        let jobs = try #require(json["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["id"] as? Int } == [Int(c.id), Int(a.id)])
        #expect(jobs.allSatisfy { $0["tasks"] == nil })
        #expect(json["next_before"] == nil)
        let sam = try #require(try AppHarness.json(h.send("GET", "/api/v1/jobs", user: "sam"))["jobs"] as? [[String: Any]])
        #expect(sam.map { $0["pipeline"] as? String } == ["secret"])
        let nobody = try #require(try AppHarness.json(h.send("GET", "/api/v1/jobs", user: "mallory"))["jobs"] as? [Any])
        #expect(nobody.isEmpty)
    }

    @Test("The job list honours pipeline, before and limit")
    func listFilters() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let ids = try (0..<5).map { _ in try h.createJob().id }
        try h.createJob(pipeline: "secret", by: "sam", params: [:])
        func list(_ query: String, user: String = "bob") throws -> (ids: [Int64], next: Int64?) {
            let json = try AppHarness.json(h.send("GET", "/api/v1/jobs?" + query, user: user))
            let jobs = try #require(json["jobs"] as? [[String: Any]])
            return (jobs.compactMap { ($0["id"] as? Int).map(Int64.init) }, (json["next_before"] as? Int).map(Int64.init))
        }
        #expect(try list("pipeline=etl-nightly").ids == ids.reversed())
        #expect(try list("pipeline=secret").ids.isEmpty)
        #expect(try list("pipeline=no-such").ids.isEmpty)
        #expect(try list("pipeline=secret", user: "sam").ids.count == 1)
        let page1 = try list("limit=2")
        #expect(page1.ids == [ids[4], ids[3]])
        #expect(page1.next == ids[3])
        let page2 = try list("limit=2&before=\(ids[3])")
        #expect(page2.ids == [ids[2], ids[1]])
        #expect(try list("before=\(ids[1])").ids == [ids[0]])
        #expect(try list("limit=500").ids.count == 5)
        #expect(try list("limit=2&limit=1").ids.count == 2)
    }

    @Test(
        "Bad list parameters are 400",
        arguments: ["limit=0", "limit=501", "limit=-1", "limit=x", "limit=", "limit=1.5", "limit=99999999999999999999", "before=0", "before=-5",
                    "before=abc", "before=", "before=99999999999999999999", "limit=%zz"])
    func badListParameters(query: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let api = h.send("GET", "/api/v1/jobs?" + query)
        #expect(api.status.code == 400)
        _ = try AppHarness.jsonError(api)
        let page = h.send("GET", "/jobs?" + query)
        #expect(page.status.code == 400)
        AppHarness.expectHTML(page)
    }

    @Test("Cancelling a finished job is 200 and changes nothing")
    func cancelFinished() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.finish(job)
        let response = h.send("POST", "/api/v1/jobs/\(job.id)/cancel", body: "{}", contentType: "application/json")
        #expect(response.status.code == 200)
        let json = try AppHarness.json(response)
        #expect(json["state"] as? String == "succeeded")
        #expect(json["cancel_requested"] as? Bool == false)
        #expect(try h.store.job(id: job.id)?.cancelRequested == false)
    }

    @Test("Cancelling a queued job is 202 and records the request")
    func cancelQueued() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let response = h.send("POST", "/api/v1/jobs/\(job.id)/cancel", body: "{}", contentType: "application/json")
        #expect(response.status.code == 202)
        #expect(try AppHarness.json(response)["cancel_requested"] as? Bool == true)
        #expect(try h.store.job(id: job.id)?.cancelRequested == true)
    }

    @Test("Cancelling needs the cancel verb, an existing job and POST")
    func cancelRules() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        #expect(h.send("POST", "/api/v1/jobs/\(job.id)/cancel", user: "vera").status.code == 403)
        #expect(try h.store.job(id: job.id)?.cancelRequested == false)
        #expect(h.send("POST", "/api/v1/jobs/\(job.id + 1)/cancel").status.code == 404)
        let get = h.send("GET", "/api/v1/jobs/\(job.id)/cancel")
        #expect(get.status.code == 405)
        #expect(get.header("Allow") == "POST")
    }
}
