import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// `/api/v1/admin/drain` (the `admin` verb), and what a drain shows on `/healthz`, the dashboard,
/// the pipeline page and who-am-I.
@Suite struct AppDrainTests {
    /// A service token of the role `admin` (its SHA-256 is in the configuration).
    static let token = "slc_drain-test-token-0123456789abcdefghijklmnopqrstuv"

    /// AppHarness's roles plus ada (admin through her user name), the group `ops` (admin), eve
    /// (everything on etl-* but admin), an auditor, and a service token holding `admin`.
    static let config = AppHarness.configuration(
        identity: """
            identity: { remote_user: {}, service_tokens: [{ name: "ops-bot", sha256: "9638d267a07a234175b469a53224f9a74447086b3f02971b88e0447be70c0586", roles: ["admin"] }] },
            """
    ).replacingOccurrences(
        of: "secret: { users: [\"sam\"]",
        with: """
            admin: { users: ["ada"], groups: ["ops"], grants: [{ pipelines: ["*"], verbs: ["view", "admin"] }] },
                etl: { users: ["eve"], grants: [{ pipelines: ["etl-*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit"] }] },
                auditor: { users: ["aud"], grants: [{ pipelines: ["*"], verbs: ["audit"] }] },
                secret: { users: ["sam"]
            """)

    /// A harness whose app drains a `FakeRunner`; exits are recorded, not made.
    struct Drained {
        let harness: AppHarness
        let runner = FakeRunner()
        let exits = ExitRecorder()
        let control: DrainControl

        init() throws {
            let runner = self.runner
            let exits = self.exits
            self.control = DrainControl(drainable: runner, settle: .milliseconds(20), onDrained: { exits.record() })
            self.harness = try AppHarness(config: AppDrainTests.config, drain: self.control)
        }

        /// Sends to the drain endpoint as `user` (a POST, or a request with a body, as JSON: basic
        /// auth is a browser credential).
        func drain(_ method: String, _ body: String = "", user: String? = "ada", params: [String: String] = [:]) -> HTTPResponse {
            let json = method == "POST" || !body.isEmpty
            return self.harness.send(
                method, "/api/v1/admin/drain", user: user, body: body, contentType: json ? "application/json" : nil, params: params)
        }

        /// The drain document of a response.
        func document(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
            #expect(response.status.code == 200, "\(AppHarness.text(response))", sourceLocation: sourceLocation)
            let json = try AppHarness.json(response, sourceLocation: sourceLocation)
            #expect(Set(json.keys) == ["draining", "active_jobs", "running_tasks", "exit_when_drained"], sourceLocation: sourceLocation)
            return json
        }

        /// Audit records of `event`, oldest first.
        func audit(_ event: String) throws -> [AuditRecord] {
            try self.harness.store.auditRecords(AuditQuery(event: event)).reversed()
        }
    }

    @Test("GET shows the drain document to an admin")
    func status() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        d.runner.set(activeJobs: 3, runningTasks: 5)
        let json = try d.document(d.drain("GET"))
        #expect(json["draining"] as? Bool == false && json["exit_when_drained"] as? Bool == false)
        #expect(json["active_jobs"] as? Int == 3 && json["running_tasks"] as? Int == 5)
        // Through a service token's role.
        let bearer = d.drain("GET", user: nil, params: ["HTTP_AUTHORIZATION": "Bearer \(Self.token)"])
        #expect(bearer.status.code == 200, "\(AppHarness.text(bearer))")
    }

    @Test(
        "Without the admin verb every method is 403 in the error shape, audited, and changes nothing",
        arguments: ["bob", "eve", "vera", "aud", "nobody"])
    func denied(user: String) throws {
        let d = try Drained()
        defer { d.harness.remove() }
        for (method, body, event) in [
            ("GET", "", "drain_status"), ("POST", #"{"exit_when_drained": true}"#, "drain"), ("DELETE", "", "resume"),
        ] {
            let response = d.drain(method, body, user: user)
            #expect(response.status.code == 403, "\(method) as \(user): \(AppHarness.text(response))")
            #expect(
                try AppHarness.jsonError(response)["message"] as? String == "you may not administer this Sluice (it needs the admin verb)")
            let record = try #require(try d.audit(event).last)
            #expect(record.user == user && !record.allowed && record.pipeline == nil && record.reason.contains(user))
        }
        #expect(!d.runner.activity.draining)
        // No identity: 401, before anything else.
        #expect(d.drain("POST", "{}", user: nil).status.code == 401)
        #expect(d.drain("GET", user: nil).status.code == 401)
    }

    @Test("POST starts draining, idempotently, with an audit record naming who and the grant; DELETE resumes")
    func drainResume() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        d.runner.set(activeJobs: 1, runningTasks: 1)
        let first = try d.document(d.drain("POST"))
        #expect(first["draining"] as? Bool == true && first["exit_when_drained"] as? Bool == false && first["active_jobs"] as? Int == 1)
        let again = try d.document(d.drain("POST", "{}"))
        #expect(again["draining"] as? Bool == true)
        #expect(d.runner.activity.draining)
        #expect(try d.document(d.drain("GET"))["draining"] as? Bool == true)
        let records = try d.audit("drain")
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.allowed && $0.user == "ada" && $0.reason == "roles.admin.grants[0]" && $0.requestID != nil })

        let resumed = try d.document(d.drain("DELETE"))
        #expect(resumed["draining"] as? Bool == false && resumed["exit_when_drained"] as? Bool == false)
        #expect(!d.runner.activity.draining)
        #expect(try d.document(d.drain("DELETE"))["draining"] as? Bool == false, "resuming twice is fine")
        let resumes = try d.audit("resume")
        #expect(resumes.count == 2 && resumes.allSatisfy { $0.allowed && $0.user == "ada" })
        #expect(d.exits.calls == 0)
    }

    @Test("exit_when_drained: the exit comes once nothing runs; then resume and cancelling are 409")
    func exitWhenDrained() async throws {
        let d = try Drained()
        defer { d.harness.remove() }
        d.runner.set(activeJobs: 1, runningTasks: 1)
        let planned = try d.document(d.drain("POST", #"{"exit_when_drained": true}"#))
        #expect(planned["exit_when_drained"] as? Bool == true && planned["draining"] as? Bool == true)
        #expect(try d.audit("drain").last?.reason == "roles.admin.grants[0]; exit_when_drained")
        // A plain drain by someone else keeps the plan.
        #expect(try d.document(d.drain("POST", "{}"))["exit_when_drained"] as? Bool == true)
        try await Task.sleep(for: .milliseconds(300))
        #expect(d.exits.calls == 0, "exited while a job still ran")
        d.runner.set(activeJobs: 0, runningTasks: 0)
        #expect(await d.exits.waitForCall())
        let resume = d.drain("DELETE")
        #expect(resume.status.code == 409)
        #expect((try AppHarness.jsonError(resume)["message"] as? String)?.contains("stopping") == true)
        #expect(d.drain("POST", #"{"exit_when_drained": false}"#).status.code == 409)
        #expect(try d.document(d.drain("POST"))["exit_when_drained"] as? Bool == true)
        #expect(d.runner.activity.draining)
        #expect(d.exits.calls == 1)
    }

    @Test("exit_when_drained false cancels a planned exit and keeps draining; DELETE cancels it too")
    func cancelExit() async throws {
        let d = try Drained()
        defer { d.harness.remove() }
        d.runner.set(activeJobs: 1, runningTasks: 0)
        _ = try d.document(d.drain("POST", #"{"exit_when_drained": true}"#))
        let cancelled = try d.document(d.drain("POST", #"{"exit_when_drained": false}"#))
        #expect(cancelled["exit_when_drained"] as? Bool == false && cancelled["draining"] as? Bool == true)
        #expect(try d.audit("drain").last?.reason == "roles.admin.grants[0]; exit cancelled")
        _ = try d.document(d.drain("POST", #"{"exit_when_drained": true}"#))
        _ = try d.document(d.drain("DELETE"))
        d.runner.set(activeJobs: 0, runningTasks: 0)
        try await Task.sleep(for: .milliseconds(400))
        #expect(d.exits.calls == 0)
    }

    @Test(
        "Malformed or hostile bodies are 400 (413 oversized, 415 not JSON) and change nothing",
        arguments: [
            ("nope", "application/json", 400, "not valid JSON"),
            ("[]", "application/json", 400, "must be a JSON object"),
            ("null", "application/json", 400, "must be a JSON object"),
            ("true", "application/json", 400, "must be a JSON object"),
            (#"{"exit_when_drained": "yes"}"#, "application/json", 400, "invalid body"),
            (#"{"exit_when_drained": 1}"#, "application/json", 400, "invalid body"),
            (#"{"exit_when_drained": null}"#, "application/json", 400, "invalid body"),
            (#"{"exit_when_drained": [true]}"#, "application/json", 400, "invalid body"),
            (#"{"exit": true}"#, "application/json", 400, "unknown member \"exit\""),
            (#"{"exit_when_drained": true, "force": true}"#, "application/json", 400, "unknown member \"force\""),
            (#"{"exit_when_drained": true, "exit_when_drained": false}"#, "application/json", 400, "not valid JSON"),
            ("{\"exit_when_draine\u{301}d\": true}", "application/json", 400, "unknown member"),
            ("{\"\u{212A}\": true}", "application/json", 400, "unknown member"),
            (#"{"exit_when_drained": true"#, "application/json", 400, "not valid JSON"),
            (String(repeating: "[", count: 500) + String(repeating: "]", count: 500), "application/json", 400, "not valid JSON"),
            ("{\"exit_when_drained\": true}" + String(repeating: " ", count: 1100), "application/json", 413, "at most 1024 bytes"),
            (#"{"exit_when_drained": true}"#, "text/plain", 415, "application/json"),
            ("exit_when_drained=true", "application/x-www-form-urlencoded", 415, "application/json"),
        ])
    func malformed(body: String, contentType: String, status: Int, message: String) throws {
        let d = try Drained()
        defer { d.harness.remove() }
        let response = d.harness.send("POST", "/api/v1/admin/drain", user: "ada", body: body, contentType: contentType)
        #expect(response.status.code == status, "\(AppHarness.text(response))")
        let error = try AppHarness.jsonError(response)
        let text = "\(error["message"] ?? "") \(error["fields"] ?? "")"
        #expect(text.contains(message), "\(text)")
        #expect(!d.runner.activity.draining)
        #expect(try d.audit("drain").filter(\.allowed).isEmpty, "a refused request must not be recorded as a drain")
    }

    @Test("A cross-site POST or DELETE with browser credentials is refused; browser credentials need JSON; a bearer token does not")
    func crossSite() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        for (method, body) in [("POST", "{}"), ("DELETE", "")] {
            for params in [
                ["HTTP_SEC_FETCH_SITE": "cross-site"], ["HTTP_SEC_FETCH_SITE": "same-site"],
                ["HTTP_ORIGIN": "https://evil.example", "HTTP_HOST": "sluice.example"],
            ] {
                let response = d.drain(method, body, params: params)
                #expect(response.status.code == 403, "\(method) \(params)")
                #expect(try AppHarness.jsonError(response)["message"] as? String == "cross-site request refused")
            }
        }
        #expect(!d.runner.activity.draining)
        #expect(try d.harness.store.auditRecords(AuditQuery(event: "cross_site")).count == 6)
        // basic auth (ambient) without a JSON content type: 415, even with no body.
        #expect(d.harness.send("POST", "/api/v1/admin/drain", user: "ada").status.code == 415)
        #expect(!d.runner.activity.draining)
        // Same-origin browser POST with JSON: fine.
        _ = try d.document(d.drain("POST", "{}", params: ["HTTP_SEC_FETCH_SITE": "same-origin"]))
        let delete = d.drain("DELETE", params: ["HTTP_SEC_FETCH_SITE": "same-origin"])
        #expect(try d.document(delete)["draining"] as? Bool == false)
        // A bearer token is not ambient: an empty POST without a content type is fine.
        let bearer = d.harness.send("POST", "/api/v1/admin/drain", user: nil, params: ["HTTP_AUTHORIZATION": "Bearer \(Self.token)"])
        #expect(try d.document(bearer)["draining"] as? Bool == true)
        let records = try d.audit("drain")
        #expect(records.last?.user == "token:ops-bot", "\(records.map { "\($0.user ?? "-") \($0.reason)" })")
    }

    @Test("Other methods are 405 with Allow")
    func methods() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        let put = d.drain("PUT", "{}")
        #expect(put.status.code == 405)
        #expect(put.header("Allow") == "GET, POST, DELETE")
    }

    @Test("Without a runner the endpoint is 503 for an admin, still 403 for others")
    func noRunner() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/admin/drain", user: "ada").status.code == 503)
        #expect(h.send("GET", "/api/v1/admin/drain", user: "bob").status.code == 403)
        #expect(try AppHarness.json(h.send("GET", "/healthz", user: nil))["draining"] == nil)
    }

    @Test("healthz: draining is 200 with the counts; storage trouble outranks it as degraded; stopping outranks all")
    func health() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        let idle = try AppHarness.json(d.harness.send("GET", "/healthz", user: nil))
        #expect(idle["status"] as? String == "ok" && idle["draining"] == nil && idle["active_jobs"] == nil)
        d.runner.set(activeJobs: 2, runningTasks: 3)
        _ = try d.document(d.drain("POST", #"{"exit_when_drained": true}"#))
        let response = d.harness.send("GET", "/healthz", user: nil)
        #expect(response.status.code == 200)
        let draining = try AppHarness.json(response)
        #expect(draining["status"] as? String == "draining" && draining["draining"] as? Bool == true)
        #expect(draining["active_jobs"] as? Int == 2 && draining["running_tasks"] as? Int == 3)
        #expect(draining["exit_when_drained"] as? Bool == true && draining["storage_errors"] as? Int == 0)
        #expect(draining["config"] as? String == d.harness.configuration.hash)

        d.harness.app.storageTrouble.record(StorageUnavailable(.busy, detail: "test"))
        let degraded = try AppHarness.json(d.harness.send("GET", "/healthz", user: nil))
        #expect(
            degraded["status"] as? String == "degraded" && degraded["draining"] as? Bool == true && degraded["storage_errors"] as? Int == 1)

        d.harness.app.beginStopping()
        let stopping = d.harness.send("GET", "/healthz", user: nil)
        #expect(stopping.status.code == 503)
        #expect(try AppHarness.json(stopping)["status"] as? String == "stopping")
    }

    @Test("The dashboard shows a banner while draining, with the count and the planned exit; the pipeline page too")
    func banner() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        let before = AppHarness.text(d.harness.send("GET", "/", user: "bob"))
        #expect(!before.contains("class=\"banner\"") && !before.contains("Draining"))
        d.runner.set(activeJobs: 2, runningTasks: 2)
        _ = try d.document(d.drain("POST"))
        let page = d.harness.send("GET", "/", user: "bob")
        AppHarness.expectHTML(page)
        let html = AppHarness.text(page)
        #expect(
            html.contains("<p class=\"banner\" role=\"status\" data-drain=\"drain\">Draining: no new jobs start; 2 jobs still running."))
        #expect(html.contains("wait in the queue until the drain ends"))
        #expect(!html.contains("will exit"))
        #expect(html.contains("http-equiv=\"refresh\""), "the count must go down without a manual reload")

        d.runner.set(activeJobs: 1, runningTasks: 0)
        _ = try d.document(d.drain("POST", #"{"exit_when_drained": true}"#))
        let exiting = AppHarness.text(d.harness.send("GET", "/", user: "vera"))
        #expect(exiting.contains("Draining: no new jobs start; 1 job still running."))
        #expect(exiting.contains("data-drain=\"exit\""))
        #expect(exiting.contains("Sluice will exit once nothing runs"))
        let pipeline = AppHarness.text(d.harness.send("GET", "/pipelines/etl-nightly", user: "bob"))
        #expect(pipeline.contains("id=\"trigger\"") && pipeline.contains("Draining: no new jobs start"))

        d.runner.set(activeJobs: 1, runningTasks: 1)
        _ = try? d.control.resume(by: "test")
        let after = AppHarness.text(d.harness.send("GET", "/", user: "bob"))
        #expect(!after.contains("Draining"))
    }

    @Test("Triggers are still accepted while draining (they queue)")
    func triggersAccepted() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        _ = try d.document(d.drain("POST"))
        let response = d.harness.trigger()
        #expect(response.status.code == 202)
        #expect(try AppHarness.json(response)["state"] as? String == "queued")
    }

    @Test("who-am-I lists admin on the instance with its grant, never per pipeline; explain says it too")
    func whoami() throws {
        let d = try Drained()
        defer { d.harness.remove() }
        let ada = try AppHarness.json(d.harness.send("GET", "/api/v1/whoami", user: "ada"))
        let instance = try #require(ada["instance"] as? [[String: Any]])
        #expect(instance.count == 1)
        #expect(instance.first?["verb"] as? String == "admin" && instance.first?["grant"] as? String == "roles.admin.grants[0]")
        let pipelines = try #require(ada["pipelines"] as? [[String: Any]])
        #expect(!pipelines.isEmpty)
        for p in pipelines {
            let verbs = (p["verbs"] as? [[String: Any]] ?? []).compactMap { $0["verb"] as? String }
            #expect(!verbs.contains("admin"))
        }
        let eve = try AppHarness.json(d.harness.send("GET", "/api/v1/whoami", user: "eve"))
        #expect((eve["instance"] as? [Any])?.isEmpty == true)
        let listed = try AppHarness.json(d.harness.send("GET", "/api/v1/pipelines", user: "ada"))
        for p in listed["pipelines"] as? [[String: Any]] ?? [] { #expect(!((p["verbs"] as? [String]) ?? []).contains("admin")) }

        let page = AppHarness.text(d.harness.send("GET", "/whoami", user: "ada"))
        #expect(page.contains("<h2>On this Sluice</h2>") && page.contains("<td>admin</td><td><code>roles.admin.grants[0]</code></td>"))
        #expect(!AppHarness.text(d.harness.send("GET", "/whoami", user: "eve")).contains("On this Sluice"))

        let text = Explanation.make(.init(user: "ada", groups: [], source: .remoteUser, isAmbient: true), d.harness.configuration).text
        #expect(text.contains("this Sluice instance:\n  admin    by roles.admin.grants[0]\n"))
        let group = Explanation.make(.init(user: "gus", groups: ["ops"], source: .remoteUser, isAmbient: true), d.harness.configuration)
        #expect(group.instance.map(\.verb) == ["admin"])
        #expect(
            !Explanation.make(.init(user: "bob", groups: [], source: .remoteUser, isAmbient: true), d.harness.configuration).text
                .contains("instance"))
    }
}
