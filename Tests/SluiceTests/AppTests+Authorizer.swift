import Foundation
import HTTP
import Identity
import JobStore
import TestSupport
import Testing

@testable import Sluice

/// Sluice as lighttpd's FastCGI authorizer for guarded upstreams (`FCGI_ROLE=AUTHORIZER`): who
/// may send which request on to Luigi, what is answered, what is audited and counted.
@Suite struct AppAuthorizerTests {
    /// A service token of the role `operator` (its SHA-256 is in the configuration).
    static let token = "slc_drain-test-token-0123456789abcdefghijklmnopqrstuv"
    static let tokenDigest = "9638d267a07a234175b469a53224f9a74447086b3f02971b88e0447be70c0586"

    /// Sluice mounted at /sluice with lighttpd's REMOTE_USER and a service token `luigi-bot`;
    /// the upstream `luigi` at the root of its host (pages and reads are view, forgive_failures is
    /// operate) and `flower` under /flower. vic views luigi, olly views and operates luigi and
    /// views flower, ada may do everything with every pipeline and the instance but nothing with
    /// an upstream.
    static func config(luigiRateLimit: String = "") -> String {
        """
        {
          server: { base_path: "/sluice" },
          identity: { remote_user: {}, service_tokens: [{ name: "luigi-bot", sha256: "\(Self.tokenDigest)", roles: ["operator"] }] },
          upstreams: {
            luigi: {
              \(luigiRateLimit)
              rules: [
                { methods: ["GET", "HEAD"], paths: ["/", "/static/**", "/api/task_list"], verb: "view" },
                { methods: ["GET", "POST"], paths: ["/api/forgive_failures"], verb: "operate" },
              ],
            },
            flower: { mount_path: "/flower", rules: [{ methods: ["GET"], paths: ["/**"], verb: "view" }] },
          },
          roles: {
            viewer: { users: ["vic"], grants: [{ upstreams: ["luigi"], verbs: ["view"] }] },
            operator: { users: ["olly"], grants: [{ upstreams: ["luigi"], verbs: ["view", "operate"] }, { upstreams: ["flower"], verbs: ["view"] }] },
            everything: { users: ["ada"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit", "admin"] }] },
          },
          pipelines: { p: { tasks: { t: { run: ["/bin/true"] } } } },
        }
        """
    }

    static func harness(luigiRateLimit: String = "") throws -> AppHarness {
        try AppHarness(config: Self.config(luigiRateLimit: luigiRateLimit))
    }

    /// Sends what lighttpd sends its authorizer: `FCGI_ROLE=AUTHORIZER`, the block's
    /// `SLUICE_UPSTREAM`, the client's method and request target, REMOTE_USER when lighttpd
    /// authenticated the caller, and the client's headers as `HTTP_*` in `params`.
    static func authorize(
        _ h: AppHarness, _ method: String, _ target: String, user: String?, upstream: String? = "luigi",
        params extra: [String: String] = [:], repeated: [String: [String]] = [:]
    ) -> HTTPResponse {
        var params = ["FCGI_ROLE": "AUTHORIZER"]
        if let upstream { params["SLUICE_UPSTREAM"] = upstream }
        params.merge(extra) { _, new in new }
        return h.sendRaw(method, target, scriptName: "", user: user, params: params, repeated: repeated)
    }

    /// Expects a 200 with no body: lighttpd then passes the request on.
    static func expectAllowed(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status.code == 200, "\(AppHarness.text(response))", sourceLocation: sourceLocation)
        #expect(response.body.isEmpty, sourceLocation: sourceLocation)
    }

    /// Expects a JSON error of `status` whose message contains `fragment`.
    static func expectRefused(
        _ response: HTTPResponse, _ status: Int, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status.code == status, "\(AppHarness.text(response))", sourceLocation: sourceLocation)
        let message = try AppHarness.jsonError(response, sourceLocation: sourceLocation)["message"] as? String
        #expect(message?.contains(fragment) == true, "\(message ?? "(no message)")", sourceLocation: sourceLocation)
        #expect(response.header(App.remoteUserVariable) == nil, sourceLocation: sourceLocation)
    }

    /// The audit records of the upstream `name`, oldest first, after writing the queued ones.
    static func audit(_ h: AppHarness, flush: Bool = true, upstream name: String = "luigi") throws -> [AuditRecord] {
        if flush { h.app.auditQueue.flush() }
        return try h.store.auditRecords(AuditQuery(event: "upstream:\(name)")).reversed()
    }

    @Test("Without credentials: 401, before anything is matched")
    func anonymous() throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list", user: nil), 401, containing: "authentication required")
        try Self.expectRefused(Self.authorize(h, "GET", "/no/rule", user: nil), 401, containing: "authentication required")
        try Self.expectRefused(Self.authorize(h, "GET", "/a%2Fb", user: nil), 401, containing: "authentication required")
        // Empty REMOTE_USER is nobody; an unknown token is invalid.
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list", user: ""), 401, containing: "authentication required")
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: nil, params: ["HTTP_AUTHORIZATION": "Bearer slc_not-a-configured-token"]), 401,
            containing: "authentication required")
        // A client's Remote-User header is not REMOTE_USER.
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: nil, params: ["HTTP_REMOTE_USER": "olly"]), 401,
            containing: "authentication required")
    }

    @Test("A viewer may view: 200, no body, no Variable-REMOTE_USER (lighttpd already has REMOTE_USER)")
    func viewerViews() throws {
        let h = try Self.harness()
        defer { h.remove() }
        for (method, target) in [
            ("GET", "/api/task_list?data=%7B%22status%22%3A%22RUNNING%22%7D"), ("GET", "/"), ("HEAD", "/"),
            ("GET", "/static/visualiser/index.html"),
            ("GET", "/static"), ("GET", "/api/task%5Flist"),
        ] {
            let response = Self.authorize(h, method, target, user: "vic")
            Self.expectAllowed(response)
            #expect(response.header(App.remoteUserVariable) == nil, "\(method) \(target)")
            #expect(response.header("X-Request-Id")?.count == 12)
        }
    }

    @Test("A service token is allowed and named to lighttpd in Variable-REMOTE_USER")
    func serviceToken() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let bearer = ["HTTP_AUTHORIZATION": "Bearer \(Self.token)"]
        let view = Self.authorize(h, "GET", "/api/task_list", user: nil, params: bearer)
        Self.expectAllowed(view)
        #expect(view.header(App.remoteUserVariable) == "token:luigi-bot")
        #expect(App.remoteUserVariable == "Variable-REMOTE_USER")
        let operate = Self.authorize(h, "POST", "/api/forgive_failures", user: nil, params: bearer)
        Self.expectAllowed(operate)
        #expect(operate.header("Variable-REMOTE_USER") == "token:luigi-bot")
        // Its role's grant of flower too, and no more than the role grants.
        Self.expectAllowed(Self.authorize(h, "GET", "/flower/x", user: nil, upstream: "flower", params: bearer))
        try Self.expectRefused(Self.authorize(h, "GET", "/api/other", user: nil, params: bearer), 403, containing: "no rule")
    }

    @Test("operate needs a grant of operate: the viewer gets 403, the operator 200")
    func operate() throws {
        let h = try Self.harness()
        defer { h.remove() }
        for method in ["GET", "POST"] {
            try Self.expectRefused(
                Self.authorize(h, method, "/api/forgive_failures?data=%7B%7D", user: "vic"), 403,
                containing: "you may not operate luigi (\(method) /api/forgive_failures)")
            let allowed = Self.authorize(h, method, "/api/forgive_failures?data=%7B%7D", user: "olly")
            Self.expectAllowed(allowed)
            #expect(allowed.header(App.remoteUserVariable) == nil)
        }
        Self.expectAllowed(Self.authorize(h, "GET", "/api/task_list", user: "olly"))
    }

    @Test("Everything on pipelines [\"*\"] (and admin) is nothing on an upstream: 403")
    func pipelineAdmin() throws {
        let h = try Self.harness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines/p", user: "ada").status.code == 200, "the premise: ada sees every pipeline")
        try Self.expectRefused(Self.authorize(h, "GET", "/", user: "ada"), 403, containing: "you may not view luigi")
        try Self.expectRefused(Self.authorize(h, "GET", "/api/forgive_failures", user: "ada"), 403, containing: "you may not operate luigi")
        // Nor does a grant of another upstream count.
        try Self.expectRefused(
            Self.authorize(h, "GET", "/flower/tasks", user: "vic", upstream: "flower"), 403, containing: "you may not view flower")
        Self.expectAllowed(Self.authorize(h, "GET", "/flower/tasks", user: "olly", upstream: "flower"))
    }

    @Test("A request no rule covers is 403, whoever asks: another path, another method, a trailing slash")
    func unmatched() throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/other", user: "olly"), 403, containing: "no rule of upstream luigi allows GET /api/other")
        try Self.expectRefused(
            Self.authorize(h, "POST", "/api/task_list", user: "olly"), 403,
            containing: "no rule of upstream luigi allows POST /api/task_list")
        try Self.expectRefused(Self.authorize(h, "DELETE", "/api/forgive_failures", user: "olly"), 403, containing: "no rule")
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list/", user: "olly"), 403, containing: "no rule")
        try Self.expectRefused(Self.authorize(h, "get", "/api/task_list", user: "olly"), 403, containing: "no rule")
        // Outside the upstream's mount path.
        try Self.expectRefused(
            Self.authorize(h, "GET", "/other/tasks", user: "olly", upstream: "flower"), 403, containing: "not below /flower")
        try Self.expectRefused(
            Self.authorize(h, "GET", "/flowerpot", user: "olly", upstream: "flower"), 403, containing: "not below /flower")
    }

    @Test(
        "A target Sluice and the upstream could read differently is 400, naming why",
        arguments: [
            ("/api%2Fforgive_failures", "encoded slash"), ("/api%2fforgive_failures", "encoded slash"),
            ("/static/../api/forgive_failures", "dot segment"), ("/static/%2E%2E/api/forgive_failures", "dot segment"),
            ("/api//task_list", "empty segment"), ("/api/task_list%00", "control character"), ("/api/%C3", "not UTF-8"),
            ("/static\\..\\api", "backslash"), ("/api/%G1", "malformed"), ("*", "not a path"),
        ])
    func refusedTarget(target: String, reason: String) throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(Self.authorize(h, "GET", target, user: "olly"), 400, containing: reason)
    }

    @Test("Without SLUICE_UPSTREAM, or naming an upstream Sluice does not guard: 500 saying what to configure")
    func unknownUpstream() throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list", user: "olly", upstream: nil), 500, containing: "SLUICE_UPSTREAM")
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: "olly", upstream: "luigy"), 500, containing: "no upstream named luigy")
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list", user: "olly", upstream: "Luigi"), 500, containing: "Luigi")
        try Self.expectRefused(Self.authorize(h, "GET", "/api/task_list", user: "olly", upstream: ""), 500, containing: "no upstream named")
        // A client header of that name is not the environment variable.
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: "olly", upstream: nil, params: ["HTTP_SLUICE_UPSTREAM": "luigi"]), 500,
            containing: "SLUICE_UPSTREAM")
    }

    @Test("REDIRECT_URI (what mod_proxy sends on) is decided on, not REQUEST_URI")
    func redirectURI() throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: "vic", params: ["REDIRECT_URI": "/api/forgive_failures"]), 403,
            containing: "you may not operate luigi")
        Self.expectAllowed(Self.authorize(h, "GET", "/api/forgive_failures", user: "vic", params: ["REDIRECT_URI": "/api/task_list"]))
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: "vic", params: ["REDIRECT_URI": "/api/%2F"]), 400, containing: "encoded slash")
    }

    @Test("operate from another site is refused for an ambient (basic-auth) caller even on GET; view is not")
    func crossSite() throws {
        let h = try Self.harness()
        defer { h.remove() }
        for site in ["cross-site", "same-site", "Cross-Site"] {
            for method in ["GET", "POST"] {
                try Self.expectRefused(
                    Self.authorize(h, method, "/api/forgive_failures", user: "olly", params: ["HTTP_SEC_FETCH_SITE": site]), 403,
                    containing: "cross-site request refused")
            }
        }
        try Self.expectRefused(
            Self.authorize(
                h, "POST", "/api/forgive_failures", user: "olly",
                params: ["HTTP_ORIGIN": "https://evil.example", "HTTP_HOST": "luigi.example", "HTTPS": "on"]), 403,
            containing: "cross-site request refused")
        // The same requests from the upstream's own pages, or typed in, go through.
        for site in ["same-origin", "none"] {
            Self.expectAllowed(Self.authorize(h, "GET", "/api/forgive_failures", user: "olly", params: ["HTTP_SEC_FETCH_SITE": site]))
        }
        Self.expectAllowed(
            Self.authorize(
                h, "POST", "/api/forgive_failures", user: "olly",
                params: ["HTTP_ORIGIN": "https://luigi.example", "HTTP_HOST": "luigi.example", "HTTPS": "on"]))
        // view from another site is fine (a link to Luigi), and so is a token's operate (not ambient).
        Self.expectAllowed(Self.authorize(h, "GET", "/api/task_list", user: "vic", params: ["HTTP_SEC_FETCH_SITE": "cross-site"]))
        Self.expectAllowed(
            Self.authorize(
                h, "GET", "/api/forgive_failures", user: nil,
                params: ["HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_AUTHORIZATION": "Bearer \(Self.token)"]))
        // A viewer's cross-site operate is refused as cross-site (before the policy), and audited so.
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/forgive_failures", user: "vic", params: ["HTTP_SEC_FETCH_SITE": "cross-site"]), 403,
            containing: "cross-site")
        let records = try Self.audit(h)
        #expect(records.filter { !$0.allowed && $0.reason.contains("Sec-Fetch-Site is cross-site") }.count == 5)
    }

    @Test("Refusals carry the security headers every answer does")
    func securityHeaders() throws {
        let h = try Self.harness(luigiRateLimit: "rate_limit: { per_minute: 1, burst: 2 },")
        defer { h.remove() }
        // One token for the view, one for the refused operate; the third request to a rule is limited.
        Self.expectAllowed(Self.authorize(h, "GET", "/", user: "vic"))
        for (response, status) in [
            (Self.authorize(h, "GET", "/", user: nil), 401), (Self.authorize(h, "GET", "/api/forgive_failures", user: "vic"), 403),
            (Self.authorize(h, "GET", "/api/other", user: "vic"), 403), (Self.authorize(h, "GET", "/a%2Fb", user: "vic"), 400),
            (Self.authorize(h, "GET", "/", user: "vic"), 429),
        ] {
            #expect(response.status.code == status)
            #expect(response.header("X-Content-Type-Options") == "nosniff", "\(status)")
            #expect(response.header("Content-Security-Policy") == SecurityHeaders.otherPolicy, "\(status)")
            #expect(response.header("Cache-Control") == "private, no-cache", "\(status)")
        }
    }

    @Test("An operate whose audit record cannot be written is not let through: 503; a view still is; a denial stays a denial")
    func operateNeedsItsRecord() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let app = App(configuration: h.configuration, store: FailingJobStore(), runner: nil)
        func send(_ method: String, _ target: String, user: String) -> HTTPResponse {
            app.respond(
                to: HTTPRequest(
                    method: method, requestURI: target,
                    params: [
                        "FCGI_ROLE": "AUTHORIZER", "SLUICE_UPSTREAM": "luigi", "REQUEST_METHOD": method, "REQUEST_URI": target,
                        "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
                    ]))
        }
        let operate = send("POST", "/api/forgive_failures", user: "olly")
        try Self.expectRefused(operate, 503, containing: "cannot write the audit record")
        #expect(operate.header("Retry-After") == "5")
        Self.expectAllowed(send("GET", "/api/task_list", user: "olly"))
        try Self.expectRefused(send("POST", "/api/forgive_failures", user: "vic"), 403, containing: "you may not operate luigi")
        // The same app over a working store lets the operate through.
        Self.expectAllowed(Self.authorize(h, "POST", "/api/forgive_failures", user: "olly"))
    }

    @Test("A header a decision reads, sent twice with different values: 400")
    func repeatedHeader() throws {
        let h = try Self.harness()
        defer { h.remove() }
        try Self.expectRefused(
            Self.authorize(
                h, "GET", "/api/forgive_failures", user: "olly", repeated: ["HTTP_SEC_FETCH_SITE": ["same-origin", "cross-site"]]), 400,
            containing: "ambiguous request")
        try Self.expectRefused(
            Self.authorize(h, "GET", "/api/task_list", user: nil, repeated: ["HTTP_AUTHORIZATION": ["Bearer \(Self.token)", "Bearer x"]]),
            400,
            containing: "ambiguous request")
    }

    @Test("The upstream's rate limit: a burst, then 429 with Retry-After, per caller")
    func rateLimit() throws {
        let h = try Self.harness(luigiRateLimit: "rate_limit: { per_minute: 1, burst: 2 },")
        defer { h.remove() }
        Self.expectAllowed(Self.authorize(h, "GET", "/api/task_list", user: "vic"))
        Self.expectAllowed(Self.authorize(h, "GET", "/", user: "vic"))
        let limited = Self.authorize(h, "GET", "/api/task_list", user: "vic")
        try Self.expectRefused(limited, 429, containing: "too many requests to luigi")
        let retryAfter = try #require(limited.header("Retry-After").flatMap { Int($0) })
        #expect(retryAfter >= 1 && retryAfter <= 60, "\(retryAfter)")
        // Another caller has a bucket of its own; another upstream is not limited by this one.
        Self.expectAllowed(Self.authorize(h, "GET", "/api/task_list", user: "olly"))
        Self.expectAllowed(Self.authorize(h, "GET", "/flower/x", user: "olly", upstream: "flower"))
        // The limit is audited as such.
        let records = try Self.audit(h)
        #expect(records.contains { !$0.allowed && $0.user == "vic" && $0.reason.hasSuffix(": rate limited") })
    }

    @Test("Without a configured rate limit, a page's worth of requests goes through")
    func defaultRateLimit() throws {
        let h = try Self.harness()
        defer { h.remove() }
        for i in 0..<50 { Self.expectAllowed(Self.authorize(h, "GET", "/static/file\(i).js", user: "vic")) }
    }

    @Test("Decisions are audited as upstream:<name> with who, the rule and the grant, or why not")
    func audited() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let allowed = Self.authorize(h, "GET", "/api/task_list?data=x", user: "vic")
        Self.expectAllowed(allowed)
        _ = Self.authorize(h, "GET", "/api/forgive_failures", user: "vic")
        _ = Self.authorize(h, "GET", "/api/task_list", user: nil)
        _ = Self.authorize(h, "GET", "/api/other", user: "olly")
        _ = Self.authorize(h, "GET", "/a%2Fb", user: "olly")
        _ = Self.authorize(h, "GET", "/", user: "ada")
        let records = try Self.audit(h)
        #expect(records.count == 6, "\(records.map(\.reason))")
        #expect(records.allSatisfy { $0.pipeline == nil && $0.jobID == nil && $0.configHash == h.configuration.hash })
        #expect(records.allSatisfy { $0.clientAddress == "127.0.0.1" && $0.requestID != nil })

        let view = try #require(records.first { $0.allowed })
        #expect(view.user == "vic" && view.identitySource == "remote_user")
        #expect(view.reason == "view GET /api/task_list (upstreams.luigi.rules[0]): roles.viewer.grants[0]")
        #expect(view.requestID == allowed.header("X-Request-Id"))
        #expect(records.filter(\.allowed).count == 1)

        let operate = try #require(records.first { $0.user == "vic" && !$0.allowed })
        #expect(operate.reason.contains("operate GET /api/forgive_failures (upstreams.luigi.rules[1])"))
        #expect(operate.reason.contains("no role of vic grants operate on upstream luigi"))
        let anonymous = try #require(records.first { $0.user == nil })
        #expect(!anonymous.allowed && anonymous.reason.contains("no credentials") && anonymous.identitySource == nil)
        let unmatched = try #require(records.first { $0.user == "olly" && $0.reason.contains("no rule") })
        #expect(!unmatched.allowed && unmatched.reason.contains("GET /api/other"))
        #expect(records.contains { $0.user == "olly" && !$0.allowed && $0.reason.contains("encoded slash") })
        let ada = try #require(records.first { $0.user == "ada" })
        #expect(!ada.allowed && ada.reason.contains("(upstreams.luigi.rules[0])") && ada.reason.contains("no role of ada grants view"))
        // Another upstream's records are apart.
        #expect(try Self.audit(h, upstream: "flower").isEmpty)
        // The audit API shows them to an auditor of every pipeline (they are about no pipeline).
        let api = try #require(
            try AppHarness.json(h.send("GET", "/api/v1/audit?event=upstream%3Aluigi", user: "ada"))["records"] as? [[String: Any]])
        #expect(api.count == 6 && api.allSatisfy { $0["event"] as? String == "upstream:luigi" })
        #expect(api.filter { $0["decision"] as? String == "allow" }.count == 1)
    }

    @Test("An allowed operate is in the store before the answer, without a flush")
    func operateAuditedAtOnce() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let response = Self.authorize(h, "POST", "/api/forgive_failures", user: "olly")
        Self.expectAllowed(response)
        let records = try Self.audit(h, flush: false)
        let record = try #require(records.first)
        #expect(records.count == 1)
        #expect(record.allowed && record.user == "olly")
        #expect(record.reason == "operate POST /api/forgive_failures (upstreams.luigi.rules[1]): roles.operator.grants[0]")
        #expect(record.requestID == response.header("X-Request-Id"))
        // A refused operate too.
        _ = Self.authorize(h, "POST", "/api/forgive_failures", user: "vic")
        #expect(try Self.audit(h, flush: false).contains { $0.user == "vic" && !$0.allowed })
    }

    @Test("A queued view record reaches the store on its own, without a flush")
    func queueWritesOnItsOwn() throws {
        let h = try Self.harness()
        defer { h.remove() }
        Self.expectAllowed(Self.authorize(h, "GET", "/api/task_list", user: "vic"))
        let written = try Poll.blockingUntil(within: .seconds(10)) { try !Self.audit(h, flush: false).isEmpty }
        #expect(written)
        #expect(h.app.auditQueue.backlog == 0)
    }

    @Test("Without FCGI_ROLE=AUTHORIZER a request is one for Sluice's own routes, whatever its path")
    func notAnAuthorizerRequest() throws {
        let h = try Self.harness()
        defer { h.remove() }
        // As the authorizer, Sluice's own API path is just a path of Luigi that no rule covers.
        try Self.expectRefused(Self.authorize(h, "GET", "/sluice/api/v1/whoami", user: "olly"), 403, containing: "no rule")
        for params in [
            ["SLUICE_UPSTREAM": "luigi"], ["FCGI_ROLE": "RESPONDER", "SLUICE_UPSTREAM": "luigi"],
            ["FCGI_ROLE": "authorizer", "SLUICE_UPSTREAM": "luigi"], ["HTTP_FCGI_ROLE": "AUTHORIZER", "SLUICE_UPSTREAM": "luigi"],
        ] {
            let response = h.sendRaw("GET", "/sluice/api/v1/whoami", scriptName: "/sluice", user: "olly", params: params)
            #expect(response.status.code == 200, "\(params): \(AppHarness.text(response))")
            #expect(try AppHarness.json(response)["user"] as? String == "olly")
        }
        // Luigi's path, sent to Sluice as a normal request, is outside Sluice's mount: not an empty 200.
        let luigiPath = h.sendRaw("GET", "/api/task_list", scriptName: "", user: "vic", params: ["SLUICE_UPSTREAM": "luigi"])
        #expect(luigiPath.status.code == 404)
        #expect(luigiPath.header(App.remoteUserVariable) == nil)
        // None of these is an upstream decision.
        #expect(try Self.audit(h).count == 1)
    }

    @Test("whoami lists every upstream with the verbs allowed on it and the grant of each")
    func whoami() throws {
        let h = try Self.harness()
        defer { h.remove() }
        func upstreams(_ response: HTTPResponse) throws -> [String: [[String: String]]] {
            #expect(response.status.code == 200, "\(AppHarness.text(response))")
            let list = try #require(try AppHarness.json(response)["upstreams"] as? [[String: Any]])
            var out: [String: [[String: String]]] = [:]
            for item in list {
                let name = try #require(item["name"] as? String)
                out[name] = try #require(item["verbs"] as? [[String: String]])
            }
            return out
        }
        let olly = try upstreams(h.send("GET", "/api/v1/whoami", user: "olly"))
        #expect(
            olly["luigi"] == [
                ["verb": "view", "grant": "roles.operator.grants[0]"], ["verb": "operate", "grant": "roles.operator.grants[0]"],
            ])
        #expect(olly["flower"] == [["verb": "view", "grant": "roles.operator.grants[1]"]])
        let vic = try upstreams(h.send("GET", "/api/v1/whoami", user: "vic"))
        #expect(vic == ["luigi": [["verb": "view", "grant": "roles.viewer.grants[0]"]], "flower": []])
        let ada = try upstreams(h.send("GET", "/api/v1/whoami", user: "ada"))
        #expect(ada == ["luigi": [], "flower": []])
        let token = try upstreams(h.send("GET", "/api/v1/whoami", user: nil, params: ["HTTP_AUTHORIZATION": "Bearer \(Self.token)"]))
        #expect(token["luigi"]?.map { $0["verb"] } == ["view", "operate"])
        // `sluice explain` too.
        let explained = Explanation.make(Principal(user: "olly", source: .remoteUser, isAmbient: true), h.configuration).text
        #expect(
            explained.contains("upstream luigi:\n  view     by roles.operator.grants[0]\n  operate  by roles.operator.grants[0]\n"),
            "\(explained)")
        #expect(explained.contains("upstream flower:\n  view     by roles.operator.grants[1]\n"), "\(explained)")
        let nothing = Explanation.make(Principal(user: "ada", source: .remoteUser, isAmbient: true), h.configuration).text
        #expect(nothing.contains("upstream luigi: nothing\n") && nothing.contains("upstream flower: nothing\n"), "\(nothing)")
        // The page too.
        let page = AppHarness.text(h.send("GET", "/whoami", user: "olly"))
        #expect(
            page.contains("Guarded services")
                && page.contains("<td>luigi</td><td>operate</td><td><code>roles.operator.grants[0]</code></td>"))
        let vicPage = AppHarness.text(h.send("GET", "/whoami", user: "vic"))
        #expect(vicPage.contains("<td>flower</td><td colspan=\"2\">nothing</td>"))
    }

    @Test("Decisions are counted by upstream, verb and decision; answers as the authorizer route")
    func metrics() throws {
        let h = try Self.harness(luigiRateLimit: "rate_limit: { per_minute: 1, burst: 2 },")
        defer { h.remove() }
        _ = Self.authorize(h, "GET", "/api/task_list", user: "vic")
        _ = Self.authorize(h, "GET", "/api/forgive_failures", user: "vic")
        _ = Self.authorize(h, "GET", "/api/other", user: "vic")
        _ = Self.authorize(h, "GET", "/api/task_list", user: "vic")
        _ = Self.authorize(h, "GET", "/api/task_list", user: nil)
        _ = Self.authorize(h, "GET", "/a%2Fb", user: "olly")
        _ = Self.authorize(h, "GET", "/api/forgive_failures", user: "olly", params: ["HTTP_SEC_FETCH_SITE": "cross-site"])
        _ = Self.authorize(h, "GET", "/", user: "olly", upstream: "nope")
        let text = AppHarness.text(h.send("GET", "/metrics", user: "ada"))
        for line in [
            #"sluice_upstream_decisions_total{upstream="luigi",verb="view",decision="allow"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="operate",decision="deny"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="none",decision="no_rule"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="view",decision="rate_limited"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="none",decision="unauthenticated"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="none",decision="malformed"} 1"#,
            #"sluice_upstream_decisions_total{upstream="luigi",verb="operate",decision="cross_site"} 1"#,
            #"sluice_upstream_decisions_total{upstream="_unknown",verb="none",decision="unknown_upstream"} 1"#,
            #"sluice_http_requests_total{route="authorizer",method="GET",status="200"} 1"#,
            #"sluice_http_requests_total{route="authorizer",method="GET",status="403"} 3"#,
        ] {
            #expect(text.contains(line), "missing \(line)")
        }
    }
}
