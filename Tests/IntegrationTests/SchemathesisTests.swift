import Foundation
import TestSupport
import Testing

/// Property-based tests of the JSON API against its own OpenAPI document: schemathesis (from PyPI)
/// reads `/sluice/api/v1/openapi.json` through a real lighttpd, generates valid and invalid
/// requests for every operation, sends them as `alice` (basic auth, every verb), and checks the
/// answers: no 5xx, statuses, content types, headers and bodies as documented, and no operation
/// answering without credentials.
///
/// lighttpd answers some generated requests itself, before Sluice sees them (a URL with control
/// characters, a malformed header: `400` with lighttpd's own HTML page; no credentials: `401`).
/// Those answers carry no `X-Request-Id`, which every Sluice answer has; a conformance failure on
/// such an answer is printed but does not fail the test. A server error fails it whoever sent it
/// (a 502/503 from lighttpd means Sluice died).
///
/// schemathesis comes from `$SCHEMATHESIS`, else `<package root>/.test-venv/bin/schemathesis`
/// (what `scripts/test` installs), else `PATH`; the test fails, never skips, without it.
/// `SLUICE_SCHEMATHESIS_SEED` makes a run repeatable (the seed of every run is printed).
@Suite("schemathesis against the OpenAPI document through lighttpd", .serialized, .timeLimit(.minutes(3)))
struct SchemathesisTests {
    /// Pipelines with every parameter type, a failing task, retries, a noop, a duplicate policy
    /// and a full queue, so generated triggers reach every validation path.
    static func sluiceConfig(directory: String) -> String {
        """
        // Written by SchemathesisTests.
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 8, parallelism: 4, max_body_bytes: 65536 },
          roles: {
            admin:    { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit"] }] },
            operator: { users: ["bob"],   grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel"] }] },
            viewer:   { users: ["carol"], grants: [{ pipelines: ["quick"], verbs: ["view"] }] },
          },
          pipelines: {
            typed: {
              description: "Every parameter type <script>alert(1)</script>",
              params: {
                count:  { type: "int", min: 1, max: 10, default: 1, description: "How many" },
                ratio:  { type: "float", min: 0, max: 1 },
                day:    { type: "date" },
                at:     { type: "datetime" },
                flag:   { type: "bool", default: false },
                colour: { type: "choice", values: ["red", "green"], default: "red" },
                items:  { type: "list", max_items: 3 },
                name:   { pattern: "[a-z][a-z0-9-]{0,30}", default: "x" },
                note:   { max_length: 50, significant: false },
                token:  { secret: true },
              },
              tasks: {
                only: { run: ["/bin/echo", "{count}", "{name}", "{colour}"] },
                join: { kind: "noop", needs: ["only"] },
              },
            },
            quick: { description: "One instant task", tasks: { only: { run: ["/bin/echo", "done"] } } },
            failing: {
              description: "Fails, so the second task is skipped",
              tasks: {
                first:  { run: ["/bin/sh", "-c", "echo failing; exit 1"] },
                second: { run: ["/bin/echo", "never"], needs: ["first"] },
              },
            },
            retrying: {
              description: "Fails twice",
              tasks: { flaky: { run: ["/bin/sh", "-c", "exit 1"], retries: 1, retry_delay_seconds: 1, retry_jitter: 0 } },
            },
            once: {
              description: "Refuses duplicates; one job at a time, none waiting",
              on_duplicate: "reject", concurrency: 1, queue_limit: 0,
              params: { key: { default: "a" } },
              tasks: { only: { run: ["/bin/echo", "{key}"] } },
            },
          },
        }

        """
    }

    /// The checks schemathesis runs.
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance", "ignored_auth",
    ]

    @Test("every operation: no server error, and Sluice's answers match the document")
    func apiMatchesDocument() async throws {
        let schemathesis = try Self.findSchemathesis()
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }

        // A few jobs for generated requests to find: 1 succeeded, 2 failed, 3 succeeded.
        for pipeline in ["quick", "failing", "typed"] {
            let response = try harness.client.postJSON("/sluice/api/v1/pipelines/\(pipeline)/jobs", #"{"params":{}}"#, as: "alice")
            try #require(response.status == 202, "\(response)")
        }

        // Generated ids and task names mostly miss; half the time, take one that exists.
        let configFile = harness.directory + "/schemathesis.toml"
        try """
        [dictionaries.jobs]
        values = [1, 2, 3]

        [dictionaries.tasks]
        values = ["only", "first", "second", "join"]

        [parameters]
        "path.id" = { dictionary = "jobs", probability = 0.5 }
        "path.task" = { dictionary = "tasks", probability = 0.5 }

        """.write(toFile: configFile, atomically: true, encoding: .utf8)

        let reports = harness.directory + "/schemathesis"
        var arguments = [
            "--config-file", configFile, "run", harness.origin + "/sluice/api/v1/openapi.json", "--auth", "alice:alice",
            "--checks", Self.checks.joined(separator: ","), "--max-examples", "20", "--generation-database", "none",
            "--request-timeout", "65", "--no-color", "--report", "json,ndjson", "--report-dir", reports,
        ]
        if let seed = ProcessInfo.processInfo.environment["SLUICE_SCHEMATHESIS_SEED"], !seed.isEmpty {
            arguments += ["--seed", seed]
        }
        let result = try await ChildProcess(
            path: schemathesis, arguments: arguments, directory: harness.directory, environment: ["NO_COLOR": "1"]
        ).wait(timeout: .seconds(150))
        let output = result.stdout + result.stderr
        print("SchemathesisTests: \(output.split(separator: "\n").last(where: { $0.contains("Seed:") }) ?? "no seed printed")")
        try #require(!result.timedOut, "schemathesis did not finish in 150 s:\n\(output.suffix(6000))")

        let report = try Self.report(in: reports)
        let tested = (report["operations"] as? [String: Any])?["tested"] as? Int ?? 0
        #expect(tested >= 11, "schemathesis tested \(tested) operations:\n\(output.suffix(6000))")
        let errors = report["errors"] as? [Any] ?? []
        #expect(errors.isEmpty, "schemathesis errors: \(errors)\n\(output.suffix(6000))")

        let findings = try Self.findings(in: reports)
        let front = findings.filter { !$0.counts }
        if !front.isEmpty {
            print("SchemathesisTests: \(front.count) finding(s) on answers lighttpd gave itself (not Sluice's):")
            for finding in front.prefix(20) { print("  \(finding)") }
        }
        let real = findings.filter(\.counts)
        #expect(
            real.isEmpty,
            "\(real.count) finding(s) on Sluice's answers:\n\(real.map { "  \($0)" }.joined(separator: "\n"))\n\n\(output.suffix(12000))")
        #expect(
            result.exitCode == 0 || !findings.isEmpty,
            "schemathesis failed without a finding in its report: \(result)\n\(output.suffix(6000))")
        if result.exitCode != 0 && real.isEmpty {
            print(
                "SchemathesisTests: schemathesis exited \(result.exitCode.map(String.init) ?? "by a signal"), only because of lighttpd's own answers"
            )
        }
    }
}

extension SchemathesisTests {
    /// One failed check of one generated request.
    struct Finding: CustomStringConvertible, Hashable {
        /// The check's name, e.g. `status_code_conformance`.
        let check: String
        /// schemathesis's code and title, e.g. `ST103 Undocumented status code`.
        let title: String
        /// The operation, e.g. `GET /api/v1/jobs`.
        let operation: String
        /// schemathesis's explanation.
        let message: String
        /// The response status, if there was a response.
        let status: Int?
        /// Whether Sluice sent the response (it has `X-Request-Id`); nil without a response.
        let fromSluice: Bool?
        /// The request, as method and URL.
        let request: String

        /// Whether this fails the test: server errors always, others only on Sluice's answers.
        var counts: Bool { self.check == "not_a_server_error" || self.fromSluice != false }

        var description: String {
            let origin = self.fromSluice.map { $0 ? "Sluice" : "lighttpd" } ?? "no response"
            let message = self.message.replacingOccurrences(of: "\n", with: " ").prefix(300)
            return "\(self.operation): \(self.title) [\(self.check)] — \(message) — "
                + "HTTP \(self.status.map(String.init) ?? "-") from \(origin) — \(self.request.prefix(300))"
        }
    }

    /// schemathesis: `$SCHEMATHESIS` if set, else the repository's `.test-venv`, else `PATH`.
    /// - Throws: `HarnessError` with the install hint when there is none.
    static func findSchemathesis(filePath: String = #filePath) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        // This file is <root>/Tests/IntegrationTests/SchemathesisTests.swift.
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        if let path = environment["SCHEMATHESIS"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("SCHEMATHESIS=\(path) is not an executable file; run scripts/test, which installs it")
            }
            return path
        }
        var candidates: [String] = []
        candidates.append(root.appendingPathComponent(".test-venv/bin/schemathesis").path)
        candidates += (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/schemathesis" }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError(
                "schemathesis is not installed (tried \(candidates.prefix(3))…); run scripts/test, which installs it into "
                    + ".test-venv, or set SCHEMATHESIS to its path")
        }
        return path
    }

    /// The JSON run report (`--report json`).
    static func report(in directory: String) throws -> [String: Any] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard let name = files.first(where: { $0.hasPrefix("json") && $0.hasSuffix(".json") }),
            let data = FileManager.default.contents(atPath: "\(directory)/\(name)"),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw HarnessError("no schemathesis JSON report in \(directory): \(files)") }
        return object
    }

    /// Every failed check in the NDJSON event stream (`--report ndjson`), with the response it judged.
    static func findings(in directory: String) throws -> [Finding] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard let name = files.first(where: { $0.hasSuffix(".ndjson") }) else {
            throw HarnessError("no schemathesis NDJSON report in \(directory): \(files)")
        }
        var findings: [Finding] = []
        for line in ChildProcess.read("\(directory)/\(name)").split(separator: "\n") {
            guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let scenario = event["ScenarioFinished"] as? [String: Any],
                let recorder = scenario["recorder"] as? [String: Any],
                let checks = recorder["checks"] as? [String: [[String: Any]]]
            else { continue }
            let interactions = recorder["interactions"] as? [String: [String: Any]] ?? [:]
            for (caseID, results) in checks {
                for result in results where result["status"] as? String == "failure" {
                    let failure = ((result["failure_info"] as? [String: Any])?["failure"] as? [String: Any]) ?? [:]
                    let interaction = interactions[caseID]
                    let response = interaction?["response"] as? [String: Any]
                    let request = interaction?["request"] as? [String: Any]
                    let headers = response?["headers"] as? [String: Any]
                    findings.append(
                        Finding(
                            check: result["name"] as? String ?? "?",
                            title: "\(failure["code"] as? String ?? "") \(failure["title"] as? String ?? "")",
                            operation: failure["operation"] as? String ?? (recorder["label"] as? String ?? "?"),
                            message: failure["message"] as? String ?? "",
                            status: response?["status_code"] as? Int,
                            fromSluice: headers.map { $0.keys.contains { $0.lowercased() == "x-request-id" } },
                            request: "\(request?["method"] as? String ?? "") \(request?["uri"] as? String ?? "")"))
                }
            }
        }
        // One of each kind per operation: the same mismatch on many generated requests is one finding.
        var seen: Set<String> = []
        return findings.filter { seen.insert("\($0.check)|\($0.title)|\($0.operation)|\(String(describing: $0.fromSluice))").inserted }
    }
}
