import Foundation
import JobStore
import Testing
import Workflow

@testable import Sluice

@Suite struct JobJSONTests {
    private let created = Date(timeIntervalSince1970: 1_700_000_000.5)

    private func record() -> JobRecord {
        JobRecord(
            id: 12, pipeline: "etl", state: .running, triggeredBy: "bob", identitySource: "remote_user", params: ["date": "</script>"],
            workingDirectory: "/srv", cancelRequested: true, createdAt: self.created, startedAt: self.created.addingTimeInterval(1),
            finishedAt: nil,
            tasks: [
                TaskRecord(
                    name: "extract", needs: [], argv: ["./x"], state: .failed, attempt: 2, exitCode: 3, message: "boom",
                    startedAt: self.created, finishedAt: self.created.addingTimeInterval(2.25))
            ])
    }

    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test("A job maps to snake_case JSON with links under the mount path")
    func job() throws {
        let json = try self.object(JobJSON.encode(JobJSON.job(self.record(), mountPath: "/deep/mount", includeTasks: true)))
        #expect(json["id"] as? Int == 12)
        #expect(json["pipeline"] as? String == "etl")
        #expect(json["state"] as? String == "running")
        #expect(json["triggered_by"] as? String == "bob")
        #expect(json["identity_source"] as? String == "remote_user")
        #expect(json["params"] as? [String: String] == ["date": "</script>"])
        #expect(json["cancel_requested"] as? Bool == true)
        #expect(json["created_at"] as? String == "2023-11-14T22:13:20.500Z")
        #expect(json["started_at"] as? String == "2023-11-14T22:13:21.500Z")
        #expect(json["finished_at"] == nil)
        #expect(json["links"] as? [String: String] == ["self": "/deep/mount/api/v1/jobs/12", "html": "/deep/mount/jobs/12"])
        let tasks = try #require(json["tasks"] as? [[String: Any]])
        #expect(tasks.count == 1)
        #expect(tasks[0]["name"] as? String == "extract")
        #expect(tasks[0]["state"] as? String == "failed")
        #expect(tasks[0]["attempt"] as? Int == 2)
        #expect(tasks[0]["exit_code"] as? Int == 3)
        #expect(tasks[0]["message"] as? String == "boom")
        #expect(tasks[0]["finished_at"] as? String == "2023-11-14T22:13:22.750Z")
        #expect(tasks[0]["argv"] == nil)
    }

    @Test(
        "Times keep the stored milliseconds exactly")
    func milliseconds() {
        // The store keeps whole milliseconds and rebuilds dates as milliseconds / 1000.
        #expect(JobJSON.time(Date(timeIntervalSince1970: Double(1_700_000_000_123) / 1000)) == "2023-11-14T22:13:20.123Z")
    }

    @Test("A job summary leaves tasks out")
    func summary() throws {
        let json = try self.object(JobJSON.encode(JobJSON.job(self.record(), mountPath: "", includeTasks: false)))
        #expect(json["tasks"] == nil)
        #expect(json["links"] as? [String: String] == ["self": "/api/v1/jobs/12", "html": "/jobs/12"])
    }

    @Test("Encoding sorts keys, keeps slashes and ends with a newline")
    func encoding() {
        let text = String(decoding: JobJSON.encode(["b": "/x", "a": "1"]), as: UTF8.self)
        #expect(text == "{\"a\":\"1\",\"b\":\"/x\"}\n")
    }

    @Test("A pipeline lists its parameters with required only when there is no default")
    func pipeline() throws {
        let definition = PipelineDefinition(
            name: "etl", description: "d",
            parameters: [
                ParameterSpec(name: "date", isRequired: true), ParameterSpec(name: "env", isRequired: true, defaultValue: "staging"),
                ParameterSpec(name: "note", description: "free text"),
            ],
            tasks: [TaskDefinition(name: "a", run: []), TaskDefinition(name: "b", run: [], needs: ["a"])])
        let json = try self.object(JobJSON.encode(JobJSON.pipeline(definition, verbs: ["view", "trigger"])))
        #expect(json["name"] as? String == "etl")
        #expect(json["verbs"] as? [String] == ["view", "trigger"])
        let params = try #require(json["params"] as? [[String: Any]])
        #expect(params.map { $0["name"] as? String } == ["date", "env", "note"])
        #expect(params.map { $0["required"] as? Bool } == [true, false, false])
        #expect(params[1]["default"] as? String == "staging")
        #expect(params[0]["default"] == nil)
        #expect(params[2]["description"] as? String == "free text")
        let tasks = try #require(json["tasks"] as? [[String: Any]])
        #expect(tasks.map { $0["name"] as? String } == ["a", "b"])
        #expect(tasks[1]["needs"] as? [String] == ["a"])
    }
}
