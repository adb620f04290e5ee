import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end tests of Sluice's access control behind a real lighttpd with basic auth: roles and
/// grants limited by parameter values, cross-site and CSRF refusals of HTML forms, trigger rate
/// limits, configuration reload on SIGHUP, and `sluice check` as CI runs it.
///
/// Every test (and every case of the matrix) starts its own lighttpd and sluice, so no test sees
/// another's jobs, audit records or rate-limit buckets.
@Suite("Access control behind a real lighttpd", .serialized, .timeLimit(.minutes(2)))
struct AccessControlTests {
    // MARK: - Config

    /// alice: admin (every verb on every pipeline, including `audit`); bob: analyst on `export`
    /// only for env=staging and days 1–7, plus view on `etl`; carol (if `carolIsViewer`): view on `etl`.
    static func config(directory: String, carolIsViewer: Bool = true, rateLimits: String = "") -> String {
        let viewer =
            carolIsViewer ? #"viewer:  { users: ["carol"], grants: [{ pipelines: ["etl"], verbs: ["view"] }] },"# : ""
        return """
            // Written by AccessControlTests.
            {
              server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, parallelism: 2 },
              \(rateLimits)
              roles: {
                admin:   { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit"] }] },
                analyst: {
                  users: ["bob"],
                  grants: [
                    { pipelines: ["export"], verbs: ["view", "trigger", "retry", "logs"],
                      params: { env: ["staging"], days: { min: 1, max: 7 } } },
                    { pipelines: ["etl"], verbs: ["view"] },
                  ],
                },
                \(viewer)
              },
              pipelines: {
                export: {
                  description: "Exports some days of data to an environment",
                  params: { env: { default: "staging" }, days: { default: "1" } },
                  tasks: { run: { run: ["/bin/echo", "{env}", "{days}"] } },
                },
                etl:    { description: "Instant", tasks: { only: { run: ["/bin/true"] } } },
                secret: { description: "Only for admins", tasks: { only: { run: ["/bin/true"] } } },
              },
            }

            """
    }

    // MARK: - 1. The grant matrix

    /// A job alice creates before the request, whose id replaces `{job}` in the path.
    enum Setup: Sendable {
        case none
        case aliceExportJob(env: String)
    }

    /// One request of the matrix and the status it must get.
    struct Case: Sendable, CustomTestStringConvertible {
        let user: String
        let method: String
        let path: String
        let body: String?
        let expected: Int
        var setup: Setup = .none

        var testDescription: String {
            "\(self.user) \(self.method) \(self.path)\(self.body.map { " \($0)" } ?? "") → \(self.expected)"
        }
    }

    static let exportJobs = "/sluice/api/v1/pipelines/export/jobs"

    static let matrix: [Case] = [
        // bob's trigger grant on export is limited to env=staging and days 1–7, checked after defaults.
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"env":"staging"}}"#, expected: 202),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{}}"#, expected: 202),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"days":"7"}}"#, expected: 202),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"env":"prod"}}"#, expected: 403),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"days":"8"}}"#, expected: 403),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"days":"0"}}"#, expected: 403),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"days":"abc"}}"#, expected: 403),
        Case(user: "bob", method: "POST", path: exportJobs, body: #"{"params":{"days":"inf"}}"#, expected: 403),
        // bob may only view etl; secret is invisible to him, and so is a pipeline that does not exist.
        Case(user: "bob", method: "POST", path: "/sluice/api/v1/pipelines/etl/jobs", body: #"{"params":{}}"#, expected: 403),
        Case(user: "bob", method: "GET", path: "/sluice/api/v1/pipelines/etl", body: nil, expected: 200),
        Case(user: "bob", method: "GET", path: "/sluice/api/v1/pipelines/secret", body: nil, expected: 404),
        Case(user: "bob", method: "POST", path: "/sluice/api/v1/pipelines/secret/jobs", body: #"{"params":{}}"#, expected: 404),
        Case(user: "bob", method: "POST", path: "/sluice/api/v1/pipelines/nope/jobs", body: #"{"params":{}}"#, expected: 404),
        // carol sees etl only.
        Case(user: "carol", method: "GET", path: "/sluice/api/v1/pipelines/export", body: nil, expected: 404),
        Case(user: "carol", method: "GET", path: "/sluice/pipelines/export", body: nil, expected: 404),
        Case(user: "carol", method: "GET", path: "/sluice/api/v1/pipelines/etl", body: nil, expected: 200),
        Case(user: "carol", method: "POST", path: "/sluice/api/v1/pipelines/etl/jobs", body: #"{"params":{}}"#, expected: 403),
        // alice may do anything anywhere.
        Case(user: "alice", method: "POST", path: "/sluice/api/v1/pipelines/secret/jobs", body: #"{"params":{}}"#, expected: 202),
        Case(user: "alice", method: "POST", path: exportJobs, body: #"{"params":{"env":"prod","days":"30"}}"#, expected: 202),
        // Existing jobs are checked with their own values: alice's prod job is invisible to bob.
        Case(
            user: "bob", method: "GET", path: "/sluice/api/v1/jobs/{job}", body: nil, expected: 404,
            setup: .aliceExportJob(env: "prod")),
        Case(
            user: "bob", method: "GET", path: "/sluice/jobs/{job}", body: nil, expected: 404, setup: .aliceExportJob(env: "prod")),
        Case(
            user: "bob", method: "GET", path: "/sluice/api/v1/jobs/{job}/tasks/run/log", body: nil, expected: 404,
            setup: .aliceExportJob(env: "prod")),
        Case(
            user: "bob", method: "GET", path: "/sluice/api/v1/jobs/{job}", body: nil, expected: 200,
            setup: .aliceExportJob(env: "staging")),
        Case(
            user: "bob", method: "GET", path: "/sluice/api/v1/jobs/{job}/tasks/run/log", body: nil, expected: 200,
            setup: .aliceExportJob(env: "staging")),
        // bob holds no cancel verb on export: the job is visible, the cancel is forbidden.
        Case(
            user: "bob", method: "POST", path: "/sluice/api/v1/jobs/{job}/cancel", body: "{}", expected: 403,
            setup: .aliceExportJob(env: "staging")),
        // carol cannot see export jobs at all.
        Case(
            user: "carol", method: "GET", path: "/sluice/api/v1/jobs/{job}", body: nil, expected: 404,
            setup: .aliceExportJob(env: "staging")),
    ]

    @Test("grants with parameter constraints decide each request", arguments: Self.matrix)
    func grantMatrix(_ testCase: Case) async throws {
        let harness = try await LighttpdHarness.start { Self.config(directory: $0) }
        defer { harness.shutdown() }
        let client = harness.client

        var path = testCase.path
        if case .aliceExportJob(let env) = testCase.setup {
            let created = try client.postJSON(Self.exportJobs, #"{"params":{"env":"\#(env)"}}"#, as: "alice")
            try #require(created.status == 202, "\(created)")
            let job = try JobDocument.decode(created.body)
            path = path.replacingOccurrences(of: "{job}", with: String(job.id))
            // Let the job finish, so its log exists and nothing is running when the case ends.
            _ = try await harness.waitForJob(at: "/sluice/api/v1/jobs/\(job.id)", as: "alice", timeout: .seconds(20)) { $0.isFinished }
        }

        let response =
            if let body = testCase.body {
                try client.postJSON(path, body, as: testCase.user)
            } else {
                try client.send(testCase.method, path, as: testCase.user)
            }
        #expect(response.status == testCase.expected, "\(testCase.testDescription): \(response)")
        if path.hasPrefix("/sluice/api/") && response.status >= 400 {
            #expect(Self.errorStatus(response) == testCase.expected, "\(response)")
        }
        if testCase.expected == 202 {
            let job = try JobDocument.decode(response.body)
            #expect(job.triggeredBy == testCase.user)
            #expect(response.header("Location") == "/sluice/api/v1/jobs/\(job.id)", "\(response.headers)")
            if testCase.path == Self.exportJobs {
                // Defaults are applied before the grant is checked and are recorded with the job.
                #expect(job.params["env"] != nil && job.params["days"] != nil, "\(job.params)")
            }
            _ = try await harness.waitForJob(at: "/sluice/api/v1/jobs/\(job.id)", as: "alice", timeout: .seconds(20)) { $0.isFinished }
        }
        if testCase.expected == 403 || testCase.expected == 404, testCase.path.contains("/pipelines/nope/") == false {
            // Every denial, hidden 404s included, leaves a deny record naming the user.
            let audit = try client.send("GET", "/sluice/api/v1/audit?decision=deny&user=\(testCase.user)", as: "alice")
            #expect(audit.status == 200, "\(audit)")
            #expect(!(try Self.records(audit)).isEmpty, "no deny record for \(testCase.testDescription): \(audit)")
        }
    }

    @Test("job lists leave out jobs whose parameter values the caller's grants do not cover")
    func jobListHidesUncoveredJobs() async throws {
        let harness = try await LighttpdHarness.start { Self.config(directory: $0) }
        defer { harness.shutdown() }
        let client = harness.client

        let prod = try client.postJSON(Self.exportJobs, #"{"params":{"env":"prod"}}"#, as: "alice")
        try #require(prod.status == 202, "\(prod)")
        let staging = try client.postJSON(Self.exportJobs, #"{"params":{"env":"staging"}}"#, as: "alice")
        try #require(staging.status == 202, "\(staging)")
        let prodID = try JobDocument.decode(prod.body).id
        let stagingID = try JobDocument.decode(staging.body).id

        let single = try client.send("GET", "/sluice/api/v1/jobs/\(prodID)", as: "bob")
        #expect(single.status == 404, "\(single)")

        let list = try client.send("GET", "/sluice/api/v1/jobs?pipeline=export", as: "bob")
        try #require(list.status == 200, "\(list)")
        let ids = ((try list.jsonObject()["jobs"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
        #expect(ids.contains(stagingID), "\(list)")
        #expect(!ids.contains(prodID), "bob's job list shows alice's env=prod job \(prodID): \(list)")

        let page = try client.send("GET", "/sluice/jobs?pipeline=export", as: "bob")
        #expect(page.status == 200, "\(page)")
        #expect(!page.text.contains("/jobs/\(prodID)\""), "the HTML job list links alice's env=prod job")
    }

    // MARK: - 2. Cross-site form POSTs and CSRF tokens

    @Test("form POSTs with basic auth: cross-site refused, same-site needs the caller's own CSRF token, refusals audited")
    func crossSiteAndCSRF() async throws {
        let harness = try await LighttpdHarness.start { Self.config(directory: $0) }
        defer { harness.shutdown() }
        let client = harness.client
        let formPath = "/sluice/pipelines/export/jobs"

        let page = try client.send("GET", "/sluice/pipelines/export", as: "alice")
        try #require(page.status == 200, "\(page)")
        let token = try #require(Self.csrfToken(in: page.text), "no csrf field in \(page.text.prefix(2000))")

        func post(_ user: String, token: String?, headers: [(String, String)]) throws -> HTTPClient.Response {
            var fields = [("p.env", "staging"), ("p.days", "2")]
            if let token { fields.insert(("csrf", token), at: 0) }
            let body = fields.map { "\(Self.formEncode($0))=\(Self.formEncode($1))" }.joined(separator: "&")
            return try client.send(
                "POST", formPath, as: user,
                headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, body: Array(body.utf8))
        }

        // A valid token does not help a cross-site request.
        let crossSite = try post("alice", token: token, headers: [("Sec-Fetch-Site", "cross-site")])
        #expect(crossSite.status == 403, "\(crossSite)")
        let sameSite = try post("alice", token: token, headers: [("Sec-Fetch-Site", "same-site")])
        #expect(sameSite.status == 403, "a sibling subdomain is another origin: \(sameSite)")
        let foreignOrigin = try post("alice", token: token, headers: [("Origin", "http://evil.example")])
        #expect(foreignOrigin.status == 403, "\(foreignOrigin)")
        // The JSON API is guarded the same way.
        let apiCrossSite = try client.send(
            "POST", Self.exportJobs, as: "alice",
            headers: [("Content-Type", "application/json"), ("Sec-Fetch-Site", "cross-site")], body: Array(#"{"params":{}}"#.utf8))
        #expect(apiCrossSite.status == 403, "\(apiCrossSite)")

        // Same origin with alice's own token: a job, and a 303 to its page.
        let accepted = try post("alice", token: token, headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(accepted.status == 303, "\(accepted)")
        let location = try #require(accepted.header("Location"), "\(accepted.headers)")
        #expect(location.range(of: #"^/sluice/jobs/[0-9]+$"#, options: .regularExpression) != nil, "\(location)")
        let jobPage = try client.send("GET", location, as: "alice")
        #expect(jobPage.status == 200, "\(jobPage)")
        let id = try #require(Int(location.split(separator: "/").last ?? ""))
        let job = try await harness.waitForJob(at: "/sluice/api/v1/jobs/\(id)", as: "alice", timeout: .seconds(20)) { $0.isFinished }
        #expect(job.triggeredBy == "alice")
        #expect(job.params == ["env": "staging", "days": "2"], "\(job.summary) \(job.params)")

        // An Origin naming this very site (no Sec-Fetch-Site) is fine too.
        let ownOrigin = try post("alice", token: token, headers: [("Origin", "http://127.0.0.1:\(harness.port)")])
        #expect(ownOrigin.status == 303, "\(ownOrigin)")

        // A token works only for the user it was issued to, and there must be one.
        let borrowed = try post("bob", token: token, headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(borrowed.status == 403, "\(borrowed)")
        let missing = try post("alice", token: nil, headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(missing.status == 403, "\(missing)")
        let forged = try post("alice", token: "1.AAAA", headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(forged.status == 403, "\(forged)")

        // Two jobs in all: the same-origin form and the own-Origin form; none from the refusals.
        let list = try client.send("GET", "/sluice/api/v1/jobs?pipeline=export", as: "alice")
        let jobs = (try list.jsonObject()["jobs"] as? [[String: Any]]) ?? []
        #expect(jobs.count == 2, "\(list)")

        let audit = try client.send("GET", "/sluice/api/v1/audit?decision=deny&limit=1000", as: "alice")
        try #require(audit.status == 200, "\(audit)")
        let records = try Self.records(audit)
        let crossSiteRecords = records.filter { $0["event"] as? String == "cross_site" }
        #expect(crossSiteRecords.count == 4, "\(records)")
        #expect(crossSiteRecords.allSatisfy { $0["user"] as? String == "alice" && $0["decision"] as? String == "deny" }, "\(records)")
        let csrfRecords = records.filter { $0["event"] as? String == "csrf" }
        #expect(csrfRecords.count == 3, "\(records)")
        #expect(csrfRecords.contains { $0["user"] as? String == "bob" }, "\(records)")
        #expect(csrfRecords.filter { $0["user"] as? String == "alice" }.count == 2, "\(records)")
        // Records hold names and reasons, never the token.
        #expect(!audit.text.contains(token), "the audit log contains a CSRF token")
    }

    // MARK: - 3. Trigger rate limits

    @Test("an empty trigger bucket answers 429 with Retry-After; refused triggers spend nothing; whoami shows the limit")
    func rateLimit() async throws {
        let harness = try await LighttpdHarness.start {
            Self.config(directory: $0, rateLimits: "rate_limits: { trigger_per_identity: { per_minute: 1, burst: 2 } },")
        }
        defer { harness.shutdown() }
        let client = harness.client

        let before = try Self.identityLimit(try client.send("GET", "/sluice/api/v1/whoami", as: "bob"))
        #expect(before?["per_minute"] as? Int == 1, "\(String(describing: before))")
        #expect(before?["burst"] as? Int == 2, "\(String(describing: before))")
        #expect(before?["available"] as? Int == 2, "\(String(describing: before))")

        // Denied triggers (wrong values) do not spend tokens.
        for _ in 0..<3 {
            let denied = try client.postJSON(Self.exportJobs, #"{"params":{"env":"prod"}}"#, as: "bob")
            #expect(denied.status == 403, "\(denied)")
        }
        for attempt in 1...2 {
            let accepted = try client.postJSON(Self.exportJobs, #"{"params":{}}"#, as: "bob")
            #expect(accepted.status == 202, "trigger \(attempt): \(accepted)")
        }
        let limited = try client.postJSON(Self.exportJobs, #"{"params":{}}"#, as: "bob")
        #expect(limited.status == 429, "\(limited)")
        #expect(Self.errorStatus(limited) == 429, "\(limited)")
        let retryAfter = try #require(limited.header("Retry-After").flatMap { Int($0) }, "\(limited.headers)")
        #expect(retryAfter >= 1 && retryAfter <= 60, "Retry-After \(retryAfter)")

        let after = try Self.identityLimit(try client.send("GET", "/sluice/api/v1/whoami", as: "bob"))
        #expect(after?["available"] as? Int == 0, "\(String(describing: after))")

        // The bucket is bob's: alice still has hers.
        let other = try client.postJSON("/sluice/api/v1/pipelines/etl/jobs", #"{"params":{}}"#, as: "alice")
        #expect(other.status == 202, "\(other)")

        let audit = try client.send("GET", "/sluice/api/v1/audit?event=trigger&decision=deny&user=bob", as: "alice")
        let reasons = try Self.records(audit).compactMap { $0["reason"] as? String }
        #expect(reasons.filter { $0.contains("rate limited") }.count == 1, "\(reasons)")
    }

    // MARK: - 4. Reload on SIGHUP

    @Test("SIGHUP with a broken file keeps the old policy and audits the refusal; a valid file takes effect")
    func reload() async throws {
        let harness = try await LighttpdHarness.start { Self.config(directory: $0) }
        defer { harness.shutdown() }
        let client = harness.client
        let configPath = harness.sluiceConfigPath

        let pids = harness.sluiceProcessIDs()
        try #require(pids.count == 1, "expected one sluice process, found \(pids)")
        let pid = try #require(pids.first)
        let originalHash = try #require(try Self.configHash(client), "healthz without config hash")
        try #require(try client.send("GET", "/sluice/api/v1/pipelines/etl", as: "carol").status == 200)

        // A syntax error: the reload is refused and audited, the old policy stays.
        let valid = try String(contentsOfFile: configPath, encoding: .utf8)
        try (valid + "\n  roles: { broken: [ }\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        #expect(kill(pid, SIGHUP) == 0)
        var refused: [String: Any]? = nil
        let sawRefusal = try await Poll.until(within: .seconds(10), every: .milliseconds(100)) {
            let audit = try client.send("GET", "/sluice/api/v1/audit?event=reload", as: "alice")
            refused = try Self.records(audit).first { $0["decision"] as? String == "deny" }
            return refused != nil
        }
        try #require(sawRefusal, "no reload deny record within the timeout\n\(harness.logs())")
        #expect((refused?["reason"] as? String)?.contains("not valid JSON5") == true, "\(String(describing: refused))")
        #expect(refused?["config_hash"] as? String == originalHash, "\(String(describing: refused))")
        #expect(ProcessTable.isGone(pid) == false, "sluice died on a broken reload")
        let stillVisible = try client.send("GET", "/sluice/api/v1/pipelines/etl", as: "carol")
        #expect(stillVisible.status == 200, "\(stillVisible)")
        #expect(try Self.configHash(client) == originalHash)

        // A valid file without carol's role: it takes effect and is audited as allowed.
        let next = Self.config(directory: harness.directory, carolIsViewer: false)
        try next.write(toFile: configPath, atomically: true, encoding: .utf8)
        let checked = try ChildProcess.run(try LighttpdHarness.findSluiceBinary(), ["check", configPath])
        try #require(checked.status == 0, "\(checked)")
        #expect(kill(pid, SIGHUP) == 0)
        var newHash: String? = nil
        let changed = try await Poll.until(within: .seconds(10), every: .milliseconds(100)) {
            newHash = try Self.configHash(client)
            return newHash != nil && newHash != originalHash
        }
        try #require(changed, "healthz config hash did not change after SIGHUP\n\(harness.logs())")
        let hash = try #require(newHash)
        #expect(checked.stdout.contains("sha256 \(hash)"), "healthz \(hash) vs check: \(checked.stdout)")

        let hidden = try client.send("GET", "/sluice/api/v1/pipelines/etl", as: "carol")
        #expect(hidden.status == 404, "\(hidden)")
        #expect(try client.send("GET", "/sluice/api/v1/pipelines/etl", as: "bob").status == 200)

        let audit = try client.send("GET", "/sluice/api/v1/audit?event=reload&decision=allow", as: "alice")
        let allowed = try Self.records(audit)
        #expect(allowed.count == 1, "\(audit)")
        #expect(allowed.first?["config_hash"] as? String == hash, "\(allowed)")
        #expect(harness.sluiceProcessIDs() == [pid], "the reload must not restart sluice")
    }

    // MARK: - 5. sluice check

    @Test("sluice check: exit 1 and one FILE:LINE: key.path: message line per problem")
    func checkForCI() throws {
        let directory = try TemporaryDirectory(prefix: "sluice-check", in: "/tmp")
        defer { directory.remove() }
        let path = directory.file("sluice.json5")
        let text = """
            {
              pipelines: {
                etl: {
                  tasks: {
                    extract: { run: ["/bin/true"] },
                    load:    { run: ["/bin/true"], needs: ["transfrom"] },
                  },
                },
              },
              roles: {
                ops: { users: ["alice"], grants: [{ pipelines: ["etl"], verbs: ["view", "deploy"] }] },
              },
            }

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let needsLine = try #require(lines.firstIndex { $0.contains("transfrom") }) + 1
        let verbLine = try #require(lines.firstIndex { $0.contains("deploy") }) + 1

        let result = try ChildProcess.run(try LighttpdHarness.findSluiceBinary(), ["check", path])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")

        // sluice also prints a closing summary, "FILE: N problem(s)"; every other line is a problem.
        var output = result.stderr.split(separator: "\n").map(String.init)
        #expect(output.last == "\(path): 2 problem(s)", "\(result.stderr)")
        if output.last?.hasSuffix(" problem(s)") == true { output.removeLast() }
        #expect(output.count == 2, "\(result.stderr)")

        let escapedPath = NSRegularExpression.escapedPattern(for: path)
        let shape = try NSRegularExpression(pattern: "^\(escapedPath):([0-9]+): ([A-Za-z0-9_.\\[\\]-]+): (.+)$")
        var problems: [String: (line: Int, message: String)] = [:]
        for line in output {
            let range = NSRange(line.startIndex..., in: line)
            guard let match = shape.firstMatch(in: line, range: range) else {
                Issue.record("not FILE:LINE: key.path: message: \(line)")
                continue
            }
            let group = { (i: Int) in String(line[Range(match.range(at: i), in: line)!]) }
            problems[group(2)] = (Int(group(1))!, group(3))
        }
        let needs = problems["pipelines.etl.tasks.load.needs[0]"]
        #expect(needs?.line == needsLine, "\(result.stderr)")
        #expect(needs?.message.contains("unknown task \"transfrom\"") == true, "\(result.stderr)")
        let verb = problems["roles.ops.grants[0].verbs[1]"]
        #expect(verb?.line == verbLine, "\(result.stderr)")
        #expect(verb?.message.contains("unknown verb \"deploy\"") == true, "\(result.stderr)")

        // The fixed file passes with exit 0.
        try text.replacingOccurrences(of: "transfrom", with: "extract").replacingOccurrences(of: ", \"deploy\"", with: "")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let fixed = try ChildProcess.run(try LighttpdHarness.findSluiceBinary(), ["check", path])
        #expect(fixed.status == 0, "\(fixed)")
        #expect(fixed.stdout.hasPrefix("\(path): ok"), "\(fixed.stdout)")
    }
}

// MARK: - Helpers

extension AccessControlTests {
    /// The `error.status` of a JSON error body, or nil if the body is not one.
    static func errorStatus(_ response: HTTPClient.Response) -> Int? {
        guard let error = (try? response.jsonObject())?["error"] as? [String: Any] else { return nil }
        return error["status"] as? Int
    }

    /// The `records` of an audit answer.
    static func records(_ response: HTTPClient.Response) throws -> [[String: Any]] {
        guard response.status == 200, let records = try response.jsonObject()["records"] as? [[String: Any]] else {
            throw HTTPClientError("expected audit records: \(response)")
        }
        return records
    }

    /// The `trigger_per_identity` entry of a whoami answer's `limits`.
    static func identityLimit(_ response: HTTPClient.Response) throws -> [String: Any]? {
        let limits = try response.jsonObject()["limits"] as? [[String: Any]]
        return limits?.first { $0["name"] as? String == "trigger_per_identity" }
    }

    /// The `config` hash `/sluice/healthz` reports.
    static func configHash(_ client: HTTPClient) throws -> String? {
        let health = try client.send("GET", "/sluice/healthz")
        guard health.status == 200 else { return nil }
        return try health.jsonObject()["config"] as? String
    }

    /// The value of the form's `<input … name="csrf" value="…">`.
    static func csrfToken(in html: String) -> String? {
        guard let marker = html.range(of: #"name="csrf" value=""#) else { return nil }
        let rest = html[marker.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let token = String(rest[..<end])
        return token.isEmpty ? nil : token
    }

    /// `application/x-www-form-urlencoded` encoding of one name or value.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
