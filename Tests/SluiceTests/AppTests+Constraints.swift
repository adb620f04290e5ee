import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

@Suite struct AppConstraintTests {
    static let config = AppHarness.configuration().replacingOccurrences(
        of: "secret: { users: [\"sam\"]",
        with: """
            analyst: { users: ["ann"], grants: [{ pipelines: ["etl-*"], verbs: ["view", "trigger", "retry"], params: { env: ["staging"] } }] },
                secret: { users: ["sam"]
            """)

    @Test("A grant limited to env=staging allows that value (also as the default) and refuses others with 403")
    func triggerWithConstraint() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        #expect(h.trigger(#"{"params": {"date": "2024-05-01"}}"#, user: "ann").status.code == 202)
        #expect(h.trigger(#"{"params": {"date": "2024-05-01", "env": "staging"}}"#, user: "ann").status.code == 202)
        let refused = h.trigger(#"{"params": {"date": "2024-05-01", "env": "prod"}}"#, user: "ann")
        #expect(refused.status.code == 403)
        #expect(h.trigger(#"{"params": {"date": "2024-05-01", "env": "prod"}}"#, user: "bob").status.code == 202)
    }

    @Test("Jobs whose values the caller's grant does not cover are invisible (404)")
    func jobVisibility() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let prod = try AppHarness.json(h.trigger(#"{"params": {"date": "2024-05-01", "env": "prod"}}"#, user: "bob"))["id"] as! Int
        let staging = try AppHarness.json(h.trigger(#"{"params": {"date": "2024-05-01"}}"#, user: "bob"))["id"] as! Int
        #expect(h.send("GET", "/api/v1/jobs/\(prod)", user: "ann").status.code == 404)
        #expect(h.send("GET", "/api/v1/jobs/\(staging)", user: "ann").status.code == 200)
    }

    @Test("sluice check refuses constraints on unknown parameters and constraints that can never match")
    func checkConstraints() {
        for (constraint, fragment) in [("{ colour: ['red'] }", "no pipeline this grant covers"), ("{ env: [] }", "can never match"),
                                        ("{ env: { min: 5, max: 1 } }", "can never match"), ("{ env: { } }", "needs pattern, or min and/or max"), ("{ env: { pattern: 's*', min: 1 } }", "not both"),
                                        ("{ env: 5 }", "must be a value")] {
            let text = AppHarness.configuration().replacingOccurrences(
                of: #"verbs: ["view"] }] },"#, with: #"verbs: ["view"], params: \#(constraint) }] },"#)
            do {
                _ = try ConfigLoader.load(data: Data(text.utf8), file: "t.json5", directory: "/tmp")
                Issue.record("accepted \(constraint)")
            } catch {
                #expect(error.problems.contains { $0.message.contains(fragment) }, "\(constraint): \(error.problems)")
            }
        }
    }
}

@Suite struct AppRetryTests {
    @Test("Retry re-queues the failed and skipped tasks of a failed job and keeps what succeeded")
    func retryFailedJob() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let id = Int64(try AppHarness.json(h.trigger())["id"] as! Int)
        try h.store.record(jobID: id, changes: [TaskChange(task: "extract", state: .running)], jobState: .running)
        try h.store.record(jobID: id, changes: [TaskChange(task: "extract", state: .failed, exitCode: 1), TaskChange(task: "load", state: .skipped)], jobState: .failed)
        #expect(h.send("POST", "/api/v1/jobs/\(id)/retry", user: "vera", body: "{}", contentType: "application/json").status.code == 403)
        let response = h.send("POST", "/api/v1/jobs/\(id)/retry", body: "{}", contentType: "application/json")
        #expect(response.status.code == 202)
        let job = try #require(try h.store.job(id: id))
        #expect(job.state == .queued)
        #expect(job.tasks.map(\.state) == [.queued, .queued])
        #expect(job.tasks.first?.attempt == 1)
        #expect(h.send("POST", "/api/v1/jobs/\(id)/retry", body: "{}", contentType: "application/json").status.code == 409)
    }
}

@Suite struct AppTypedParameterTests {
    static let config = AppHarness.configuration().replacingOccurrences(
        of: #"params: { date: { required: true }, env: { default: "staging" } },"#,
        with: #"params: { date: { type: "date", required: true }, env: { type: "choice", values: ["staging", "prod"], default: "staging" }, days: { type: "int", min: 1, max: 7, default: 1 }, tags: { type: "list" } },"#)

    @Test("Typed parameters: JSON numbers and arrays are accepted, values canonicalised, errors per field")
    func typed() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let ok = h.trigger(#"{"params": {"date": "2024-05-01", "days": 3, "tags": ["a", "b"]}}"#)
        #expect(ok.status.code == 202)
        #expect(try AppHarness.json(ok)["params"] as? [String: String] == ["date": "2024-05-01", "env": "staging", "days": "3", "tags": "a,b"])
        let bad = try AppHarness.json(h.trigger(#"{"params": {"date": "2024-02-30", "days": 9, "env": "dev"}}"#))
        let fields = (bad["error"] as? [String: Any])?["fields"] as? [String: String]
        #expect(Set(fields?.keys ?? [:].keys) == ["date", "days", "env"])
        let schema = try AppHarness.json(h.send("GET", "/api/v1/pipelines/etl-nightly"))["params"] as! [[String: Any]]
        let days = schema.first { $0["name"] as? String == "days" }
        #expect(days?["type"] as? String == "int" && days?["max"] as? Double == 7 && days?["default"] as? String == "1")
        let page = AppHarness.text(h.send("GET", "/pipelines/etl-nightly"))
        #expect(page.contains("<select") && page.contains(#"type="date""#) && page.contains(#"type="number""#))
    }

    @Test("sluice check refuses unknown types, defaults that do not fit, and empty choices")
    func check() {
        for (params, fragment) in [
            (#"x: { type: "uuid" }"#, "unknown type"), (#"x: { type: "int", default: "abc" }"#, "does not fit type int"),
            (#"x: { type: "choice" }"#, "allowed values"), (#"x: { type: "int", min: 5, max: 1 }"#, "min is above max"),
            (#"x: { type: "date", max_length: 3 }"#, "unknown key"),
        ] {
            let text = AppHarness.configuration().replacingOccurrences(of: #"env: { default: "staging" } },"#, with: #"env: { default: "staging" }, \#(params) },"#)
            do {
                _ = try ConfigLoader.load(data: Data(text.utf8), file: "t", directory: "/tmp")
                Issue.record("accepted \(params)")
            } catch {
                #expect(error.problems.contains { $0.message.contains(fragment) }, "\(params): \(error.problems)")
            }
        }
    }
}
