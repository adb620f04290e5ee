import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sluice as lighttpd's FastCGI authorizer in front of a real Luigi central scheduler (luigid
/// 3.8.1 from the test virtual environment), through the shipped `lighttpd/guard-luigi.conf`
/// included as it is, with the shipped `examples/luigi/sluice.json5` (only its paths, port and
/// token hash replaced). lighttpd serves Luigi on the host name `luigi.test` and Sluice under
/// `/sluice` on the same port.
///
/// Who answered is told apart by `X-Request-Id`: Sluice sets it on its refusals; a response
/// proxied from luigid has none, and lighttpd's own 401 carries `WWW-Authenticate: Basic`.
@Suite("Sluice as lighttpd's authorizer in front of luigid", .serialized, .timeLimit(.minutes(4)))
struct LuigiGuardTests {
    /// A service token of the role `luigi-operator` in the test configuration.
    static let token = "slc_drain-test-token-0123456789abcdefghijklmnopqrstuv"
    static let tokenHash = "9638d267a07a234175b469a53224f9a74447086b3f02971b88e0447be70c0586"
    static let luigiHost = "luigi.test"

    /// The directory holding `luigid` and `luigi`: `SLUICE_TEST_LUIGI_BIN` (scripts/test sets
    /// it), else the repository's `.test-venv/bin`. Fails rather than skips without it.
    static func luigiBin() throws -> String {
        let bin =
            ProcessInfo.processInfo.environment["SLUICE_TEST_LUIGI_BIN"]
            ?? LighttpdSnippetTests.repositoryFile(".test-venv/bin")
        guard FileManager.default.isExecutableFile(atPath: bin + "/luigid") else {
            throw HarnessError("no luigid in \(bin): run scripts/test, which installs luigi 3.8.1 into .test-venv")
        }
        return bin
    }

    /// A luigid on a private loopback port with its state in `directory`.
    struct Luigid {
        let process: ChildProcess
        let port: UInt16

        static func start(in directory: String) async throws -> Luigid {
            let bin = try LuigiGuardTests.luigiBin()
            let port = try LighttpdHarness.findFreePort()
            try FileManager.default.createDirectory(atPath: directory + "/luigid", withIntermediateDirectories: true)
            try "[scheduler]\nstate_path = \(directory)/luigid/state.pickle\n".write(
                toFile: directory + "/luigid/luigi.cfg", atomically: true, encoding: .utf8)
            let process = try ChildProcess(
                path: bin + "/luigid",
                arguments: [
                    "--address", "127.0.0.1", "--port", String(port), "--state-path", directory + "/luigid/state.pickle",
                    "--logdir", directory + "/luigid",
                ],
                environment: ["LUIGI_CONFIG_PATH": directory + "/luigid/luigi.cfg"])
            let direct = HTTPClient(port: port, passwords: [:])
            let up = await Poll.until(within: .seconds(30), every: .milliseconds(200)) {
                (try? direct.send("GET", "/api/task_list"))?.status == 200
            }
            guard up else {
                process.terminate()
                throw HarnessError("luigid did not answer on port \(port): \(process.terminationDescription)")
            }
            return Luigid(process: process, port: port)
        }

        /// luigid's task list with `status`, asked directly (not through the guard).
        func tasks(status: String) throws -> [String: Any] {
            let response = try HTTPClient(port: self.port, passwords: [:]).send(
                "GET", "/api/task_list?data=" + LuigiGuardTests.encoded(#"{"status":"\#(status)","upstream_status":"","search":""}"#))
            return (try response.jsonObject()["response"] as? [String: Any]) ?? [:]
        }
    }

    /// `text` percent-encoded for a query value.
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    /// The shipped example configuration, with this machine's luigi, luigid's port, the test
    /// token's hash and an auditor for the audit checks.
    static func sluiceConfig(directory: String, luigiPort: UInt16, luigiBin: String) throws -> String {
        var text = try String(contentsOfFile: LighttpdSnippetTests.repositoryFile("examples/luigi/sluice.json5"), encoding: .utf8)
        let replacements = [
            (#"run: ["luigi", "#, #"run: ["\#(luigiBin)/luigi", "#),
            ("http://127.0.0.1:8082/", "http://127.0.0.1:\(luigiPort)/"),
            ("2b3ff5a9a1a4f4e7ff0b5a5d3e1a0f7d62d0c5ec0f6f1cbb1bd5a3f4a2b6c8d0", Self.tokenHash),
            (
                #"env: { PYTHONPATH: "." }"#,
                #"env: { PYTHONPATH: "\#(LighttpdSnippetTests.repositoryFile("examples/luigi"))", ORDERS_OUTPUT: "\#(directory)/orders" }"#
            ),
            (#"server: { base_path: "/sluice", data_dir: "data" }"#, #"server: { base_path: "/sluice", data_dir: "\#(directory)/data" }"#),
        ]
        for (from, to) in replacements {
            guard text.contains(from) else { throw HarnessError("examples/luigi/sluice.json5 no longer contains \(from)") }
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }

    /// lighttpd with Sluice under /sluice (basic auth as in the other tests) and the shipped
    /// guard snippet for `luigi.test`, proxying to `upstreamPort`.
    static func start(upstreamPort: UInt16, luigiPort: UInt16, fixture: TemporaryDirectory) async throws -> LighttpdHarness {
        let htpasswd = try LighttpdSnippetTests.writeHtpasswd(in: fixture.path)
        let bin = try Self.luigiBin()
        var options = LighttpdHarness.Options()
        options.extraLighttpdConfig = """
            # LuigiGuardTests: what sluice-prod.conf's "Guarded Luigi" block defines, then the shipped snippet.
            server.modules += ( "mod_setenv", "mod_proxy" )
            var.luigi_host      = \(LighttpdHarness.lighttpdString(Self.luigiHost))
            var.luigi_port      = \(upstreamPort)
            var.sluice_htpasswd = \(LighttpdHarness.lighttpdString(htpasswd))
            var.sluice_socket   = "@DIRECTORY@/sluice.sock-0"
            include \(LighttpdHarness.lighttpdString(LighttpdSnippetTests.repositoryFile("lighttpd/guard-luigi.conf")))
            """
        return try await LighttpdHarness.start(options) { directory in
            (try? Self.sluiceConfig(directory: directory, luigiPort: luigiPort, luigiBin: bin)) ?? "{ broken: true }"
        }
    }

    /// A client for `luigi.test` on the harness's port.
    static func luigiClient(_ harness: LighttpdHarness) -> HTTPClient {
        var client = harness.client
        client.host = Self.luigiHost
        return client
    }

    /// Runs a Luigi task of `examples/luigi/orders.py` (or a failing one) directly against luigid.
    static func runLuigi(_ arguments: [String], luigid: Luigid, directory: String) throws -> ChildProcess.Result {
        try ChildProcess.run(
            try Self.luigiBin() + "/luigi",
            arguments + ["--scheduler-url", "http://127.0.0.1:\(luigid.port)/", "--retcode-task-failed", "30", "--no-lock"],
            directory: directory,
            environment: [
                "PYTHONPATH": directory + ":" + LighttpdSnippetTests.repositoryFile("examples/luigi"), "ORDERS_OUTPUT": directory,
            ],
            timeout: .seconds(60))
    }

    /// A Luigi task that always fails, to have a FAILED task in luigid.
    static let failingTask = """
        import luigi

        class Broken(luigi.Task):
            name = luigi.Parameter()

            def output(self):
                return luigi.LocalTarget("never-%s" % self.name)

            def run(self):
                raise RuntimeError("broken on purpose")
        """

    // MARK: - Tests

    @Test("anonymous, unknown and roleless callers are refused; a viewer sees the UI but may not forgive; an operator may")
    func decisions() async throws {
        let fixture = try TemporaryDirectory(prefix: "luigi-guard", in: "/tmp")
        defer { fixture.remove() }
        let luigid = try await Luigid.start(in: fixture.path)
        defer { luigid.process.terminate() }
        let harness = try await Self.start(upstreamPort: luigid.port, luigiPort: luigid.port, fixture: fixture)
        defer { harness.shutdown() }
        let luigi = Self.luigiClient(harness)

        // A FAILED task to act on.
        try Self.failingTask.write(toFile: fixture.path + "/broken.py", atomically: true, encoding: .utf8)
        let failed = try Self.runLuigi(["--module", "broken", "Broken", "--name", "x"], luigid: luigid, directory: fixture.path)
        #expect(failed.status == 30, "luigi exit: \(failed.status) \(failed.stderr.suffix(500))")
        let failedID = try #require(try luigid.tasks(status: "FAILED").keys.first { $0.hasPrefix("Broken_") })
        let forgive = "/api/forgive_failures?data=" + Self.encoded(#"{"task_id":"\#(failedID)"}"#)

        // Nobody: lighttpd's basic auth refuses first (its challenge, no Sluice request id).
        let anonymous = try luigi.send("GET", "/api/task_list")
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate")?.hasPrefix("Basic") == true, "\(anonymous)")
        var stranger = HTTPClient(port: harness.port, passwords: ["mallory": "guess"])
        stranger.host = Self.luigiHost
        #expect(try stranger.send("GET", "/api/task_list", as: "mallory").status == 401)
        // An unknown bearer token passes lighttpd (Bearer is Sluice's to verify) and Sluice refuses it.
        let badToken = try luigi.send(
            "GET", "/api/task_list", headers: [("Authorization", "Bearer slc_not-a-real-token-000000000000000000000000")])
        #expect(badToken.status == 401 && badToken.header("X-Request-Id") != nil, "\(badToken)")
        // carol holds only pipeline roles: nothing on luigi.
        let carol = try luigi.send("GET", "/api/task_list", as: "carol")
        #expect(carol.status == 403 && carol.header("X-Request-Id") != nil, "\(carol)")

        // alice (luigi-viewer): the UI, its files and the task lists come from luigid.
        let root = try luigi.send("GET", "/", as: "alice")
        #expect(root.status == 302 && root.header("Location") == "static/visualiser/index.html", "\(root)")
        let index = try luigi.send("GET", "/static/visualiser/index.html", as: "alice")
        #expect(index.status == 200 && index.text.contains("LuigiAPI"), "\(index.status)")
        let list = try luigi.send(
            "GET", "/api/task_list?data=" + Self.encoded(#"{"status":"FAILED","upstream_status":"","search":""}"#), as: "alice")
        #expect(list.status == 200 && list.header("X-Request-Id") == nil, "\(list)")
        #expect(((try? list.jsonObject())?["response"] as? [String: Any])?[failedID] != nil, "\(list)")
        // ... but may not forgive, on GET (as the UI does) or POST; luigid never sees it.
        let viewerForgive = try luigi.send("GET", forgive, as: "alice", headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(viewerForgive.status == 403 && viewerForgive.text.contains("operate"), "\(viewerForgive)")
        #expect(try luigid.tasks(status: "FAILED")[failedID] != nil)

        // Paths no rule covers are denied, whoever asks: an unknown RPC, task history, an encoded slash.
        for path in ["/api/no_such_method", "/history", "/tasklist", "/metrics"] {
            let response = try luigi.send("GET", path, as: "bob")
            #expect(response.status == 403 && response.text.contains("no rule"), "\(path): \(response)")
        }
        // Encodings cannot smuggle an operate past a viewer: Sluice decides on the target lighttpd
        // sends on (1.4.69 decodes %2F and removes dot segments by default), which luigid reads
        // as forgive_failures too.
        for smuggled in [
            "/api%2Fforgive_failures", "/static/%2E%2E/api/forgive_failures", "/api/forgive%5Ffailures", "/static/../api/forgive_failures",
        ] {
            let response = try luigi.send("GET", smuggled + forgive.drop { $0 != "?" }, as: "alice")
            #expect(response.status == 403 && response.text.contains("operate"), "\(smuggled): \(response)")
        }
        #expect(try luigid.tasks(status: "FAILED")[failedID] != nil)
        // The worker API is operate and POST only: a viewer may not register as a worker.
        let worker = try luigi.send(
            "POST", "/api/add_worker", as: "alice", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array("data=%7B%7D".utf8))
        #expect(worker.status == 403, "\(worker)")

        // bob (luigi-operator) from another site: refused even on GET (Luigi changes state on GET).
        let crossSite = try luigi.send("GET", forgive, as: "bob", headers: [("Sec-Fetch-Site", "cross-site")])
        #expect(crossSite.status == 403 && crossSite.text.contains("cross-site"), "\(crossSite)")
        #expect(try luigid.tasks(status: "FAILED")[failedID] != nil)
        // From the UI itself: allowed, and luigid forgives.
        let operatorForgive = try luigi.send("GET", forgive, as: "bob", headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(operatorForgive.status == 200, "\(operatorForgive)")
        #expect(
            ((try? operatorForgive.jsonObject())?["response"] as? [String: Any])?["status"] as? String == "PENDING", "\(operatorForgive)")
        #expect(try luigid.tasks(status: "FAILED")[failedID] == nil)
        // The service token of the operator role works too (a script), on POST.
        let scripted = try luigi.send(
            "POST", "/api/task_list",
            headers: [("Authorization", "Bearer \(Self.token)"), ("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(("data=" + Self.encoded(#"{"status":"PENDING","upstream_status":"","search":""}"#)).utf8))
        #expect(scripted.status == 200 && scripted.header("X-Request-Id") == nil, "\(scripted)")

        // Every decision is in the audit log (views are queued up to 0.1 s), for carol the auditor.
        let audit = await Poll.value(within: .seconds(5), every: .milliseconds(200)) { () -> [[String: Any]]? in
            guard let response = try? harness.client.send("GET", "/sluice/api/v1/audit?event=upstream:luigi&limit=100", as: "carol"),
                let records = (try? response.jsonObject())?["records"] as? [[String: Any]],
                // The last request's record (queued, like every view) is in: so are the earlier ones.
                records.contains(where: { ($0["user"] as? String) == "token:ci-bot" })
            else { return nil }
            return records
        }
        let records = try #require(audit, "no audit record of the service token's request")
        func has(_ user: String?, _ decision: String, _ reasonPart: String) -> Bool {
            records.contains {
                ($0["user"] as? String) == user && ($0["decision"] as? String) == decision
                    && (($0["reason"] as? String)?.contains(reasonPart) ?? false)
            }
        }
        #expect(has("alice", "allow", "view GET /api/task_list"), "\(records)")
        #expect(has("alice", "deny", "operate GET /api/forgive_failures"), "\(records)")
        #expect(has("bob", "allow", "operate GET /api/forgive_failures (upstreams.luigi.rules[2]): roles.luigi-operator.grants[0]"))
        #expect(has("bob", "deny", "Sec-Fetch-Site is cross-site"))
        #expect(has("carol", "deny", "no role of carol grants view on upstream luigi"))
        #expect(has("token:ci-bot", "allow", "view POST /api/task_list"))
        #expect(has(nil, "deny", "GET /api/task_list"), "the refused bearer token")
        #expect(has("bob", "deny", "no rule of upstream luigi allows GET /history") || has("bob", "deny", "/history"), "\(records)")

        // whoami says what each may do with luigi.
        let whoami = try harness.client.send("GET", "/sluice/api/v1/whoami", as: "bob").jsonObject()
        let upstreams = whoami["upstreams"] as? [[String: Any]]
        let verbs = (upstreams?.first?["verbs"] as? [[String: Any]])?.compactMap { $0["verb"] as? String }
        #expect(upstreams?.first?["name"] as? String == "luigi" && verbs == ["view", "operate"], "\(whoami)")
    }

    @Test("the verified user reaches the upstream in Forwarded; a client's own Forwarded never does")
    func forwardedUser() async throws {
        let fixture = try TemporaryDirectory(prefix: "luigi-echo", in: "/tmp")
        defer { fixture.remove() }
        // An upstream that answers with the request headers it got, as JSON.
        let echoPort = try LighttpdHarness.findFreePort()
        try """
        import http.server, json, sys
        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
        """.write(toFile: fixture.path + "/echo.py", atomically: true, encoding: .utf8)
        let echo = try ChildProcess(path: "/usr/bin/env", arguments: ["python3", fixture.path + "/echo.py", String(echoPort)])
        defer { echo.terminate() }
        #expect(
            await Poll.until(within: .seconds(10), every: .milliseconds(100)) {
                (try? HTTPClient(port: echoPort, passwords: [:]).send("GET", "/"))?.status == 200
            })
        let harness = try await Self.start(upstreamPort: echoPort, luigiPort: 1, fixture: fixture)
        defer { harness.shutdown() }
        let luigi = Self.luigiClient(harness)

        func forwarded(_ response: HTTPClient.Response) -> [String] {
            let pairs = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [[String]] ?? []
            return pairs.filter { $0.first?.lowercased() == "forwarded" }.compactMap { $0.last }
        }
        let spoof = [("Forwarded", #"for=203.0.113.9;remote_user="mallory""#)]
        // A service token: lighttpd authenticated nobody, so Sluice's Variable-REMOTE_USER names the user.
        let byToken = try luigi.send("GET", "/", headers: [("Authorization", "Bearer \(Self.token)")] + spoof)
        try #require(byToken.status == 200, "\(byToken)")
        #expect(forwarded(byToken).count == 1 && forwarded(byToken)[0].contains(#"remote_user="token:ci-bot""#), "\(forwarded(byToken))")
        #expect(!byToken.text.contains("mallory"), "\(byToken.text)")
        // Basic auth: lighttpd's own REMOTE_USER, once (Sluice adds no second value).
        let byPassword = try luigi.send("GET", "/", as: "alice", headers: spoof)
        try #require(byPassword.status == 200, "\(byPassword)")
        #expect(forwarded(byPassword).count == 1 && forwarded(byPassword)[0].hasSuffix(#"remote_user="alice""#), "\(forwarded(byPassword))")
        #expect(!byPassword.text.contains("mallory"))
    }

    @Test("examples/luigi: the orders-report pipeline runs real Luigi tasks against luigid, which shows them done")
    func luigiTasksAsSluiceTasks() async throws {
        let fixture = try TemporaryDirectory(prefix: "luigi-tasks", in: "/tmp")
        defer { fixture.remove() }
        let luigid = try await Luigid.start(in: fixture.path)
        defer { luigid.process.terminate() }
        let harness = try await Self.start(upstreamPort: luigid.port, luigiPort: luigid.port, fixture: fixture)
        defer { harness.shutdown() }

        let accepted = try harness.client.postJSON(
            "/sluice/api/v1/pipelines/orders-report/jobs", #"{"params":{"date":"2026-12-01"}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let location = try #require(accepted.header("Location"))
        let job = try await harness.waitForJob(at: location, as: "bob", timeout: .seconds(90), every: .milliseconds(300)) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)")
        let report = try? String(contentsOfFile: harness.directory + "/orders/report-2026-12-01.txt", encoding: .utf8)
        #expect(report == "2026-12-01 total 60\n", "\(report ?? "no report")")
        // luigid knows both tasks as DONE; alice sees that through the guard.
        let done = try Self.luigiClient(harness).send(
            "GET", "/api/task_list?data=" + Self.encoded(#"{"status":"DONE","upstream_status":"","search":""}"#), as: "alice")
        let names = ((try? done.jsonObject())?["response"] as? [String: Any])?.values.compactMap {
            ($0 as? [String: Any])?["name"] as? String
        }
        #expect(Set(names ?? []) == ["ExtractOrders", "OrdersReport"], "\(done)")
    }
}
