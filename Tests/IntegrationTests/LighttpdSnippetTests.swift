import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end tests of the identity snippets we ship in `lighttpd/`, one per identity mix:
/// `identity-basic.conf` (lighttpd's basic auth only), `identity-bearer.conf` (Sluice verifies
/// tokens and assertions, lighttpd authenticates nobody) and `identity-basic-and-bearer.conf`
/// (Bearer requests go to Sluice, everything else needs a password).
///
/// Each test starts a real lighttpd whose config `include`s the snippet file from this repository
/// as it is (not a copy), with the two variables the production and development snippets define
/// before their `include` (`var.sluice_prefix`, `var.sluice_htpasswd`), and a real sluice behind
/// it. The password file holds SHA-crypt hashes made by `openssl passwd -6`, as the snippets'
/// comments tell operators to do.
///
/// Who answered a request is told apart by `X-Request-Id`: Sluice sets it on every response,
/// lighttpd's own 401 has none. A 401 from lighttpd also carries `WWW-Authenticate: Basic`; one
/// from Sluice carries no challenge of that kind.
@Suite("Shipped lighttpd identity snippets", .serialized, .timeLimit(.minutes(3)))
struct LighttpdSnippetTests {
    // MARK: - Setup

    /// The identity snippets in `lighttpd/`.
    enum Snippet: String, Sendable {
        /// Mix (a): lighttpd's basic auth only.
        case basic = "identity-basic.conf"
        /// Mix (b): no lighttpd auth; Sluice verifies bearer tokens and signed assertions.
        case bearer = "identity-bearer.conf"
        /// Mix (c): Bearer requests go to Sluice, all others need basic auth.
        case basicAndBearer = "identity-basic-and-bearer.conf"

        /// The absolute path of the shipped file: `<repository>/lighttpd/<name>`.
        func path(filePath: String = #filePath) -> String {
            // This file is <root>/Tests/IntegrationTests/LighttpdSnippetTests.swift.
            URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("lighttpd").appendingPathComponent(self.rawValue).path
        }
    }

    /// The lighttpd config lines that stand in for sluice-prod.conf / sluice-dev.conf around the
    /// snippet: the variables they define, then the `include` of the shipped file.
    static func including(_ snippet: Snippet, htpasswd: String) -> String {
        """
        # LighttpdSnippetTests: what sluice-prod.conf and sluice-dev.conf define, then the shipped snippet.
        var.sluice_prefix   = \(LighttpdHarness.lighttpdString(LighttpdHarness.mountPath))
        var.sluice_htpasswd = \(LighttpdHarness.lighttpdString(htpasswd))
        var.sluice_errors   = \(LighttpdHarness.lighttpdString(Self.repositoryFile("lighttpd/errors")))
        include \(LighttpdHarness.lighttpdString(snippet.path()))
        \(Self.apiErrorsBlock)
        """
    }

    /// The "API errors as JSON" block of the shipped sluice-prod.conf (the same text is in
    /// sluice-dev.conf and sluice-hosts.conf: `apiErrorsBlockIsShared` checks).
    static var apiErrorsBlock: String {
        Self.apiErrorsBlock(in: "lighttpd/sluice-prod.conf") ?? "# (no API errors block in sluice-prod.conf)"
    }

    static func apiErrorsBlock(in file: String) -> String? {
        let text = (try? String(contentsOfFile: Self.repositoryFile(file), encoding: .utf8)) ?? ""
        guard let start = text.range(of: "# --- lighttpd's own errors under the API"),
            let end = text.range(of: "# --- end of API errors", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }

    /// `<repository>/<relative>`.
    static func repositoryFile(_ relative: String, filePath: String = #filePath) -> String {
        // This file is <root>/Tests/IntegrationTests/LighttpdSnippetTests.swift.
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relative).path
    }

    @Test("The API-errors block is the same in sluice-prod.conf, sluice-dev.conf and sluice-hosts.conf, and its files are JSON")
    func apiErrorsBlockIsShared() throws {
        let prod = try #require(Self.apiErrorsBlock(in: "lighttpd/sluice-prod.conf"))
        #expect(Self.apiErrorsBlock(in: "lighttpd/sluice-dev.conf") == prod)
        #expect(Self.apiErrorsBlock(in: "lighttpd/sluice-hosts.conf") == prod)
        for status in [401, 500, 503] {
            let data = try #require(FileManager.default.contents(atPath: Self.repositoryFile("lighttpd/errors/api-\(status).html")))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            #expect(error?["status"] as? Int == status && (error?["message"] as? String)?.isEmpty == false, "api-\(status).html")
        }
    }

    /// Writes an htpasswd file with SHA-crypt hashes (`openssl passwd -6`) of the harness users'
    /// passwords into `directory`.
    /// - Returns: Its path.
    static func writeHtpasswd(in directory: String) throws -> String {
        let lines = try Self.hashedPasswords().map { "\($0.user):\($0.hash)\n" }.joined()
        let path = directory + "/sluice.htpasswd"
        try lines.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The harness users with SHA-crypt hashes (`openssl passwd -6`) of their passwords, by name:
    /// what htpasswd files and HAProxy's userlist hold.
    static func hashedPasswords() throws -> [(user: String, hash: String)] {
        try LighttpdHarness.passwords.sorted(by: { $0.key < $1.key }).map { user, password in
            let hashed = try ChildProcess.run("/usr/bin/env", ["openssl", "passwd", "-6", password])
            let hash = hashed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard hashed.status == 0, hash.hasPrefix("$6$") else { throw HarnessError("openssl passwd -6 failed: \(hashed.stderr)") }
            return (user, hash)
        }
    }

    /// Starts lighttpd with `snippet` included and sluice with the given `identity` section
    /// (inside `IdentityIntegrationTests.config`: `operator` through the group `data-eng`,
    /// `viewer` as the default role, one instant pipeline `quick`).
    static func start(
        _ snippet: Snippet, fixture: IdentityFixture, identity: String, files: [String: String] = [:]
    ) async throws -> LighttpdHarness {
        let htpasswd = try Self.writeHtpasswd(in: fixture.directory)
        var options = LighttpdHarness.Options()
        // The harness's own auth.require stays out: the snippet alone decides.
        options.requireBasicAuth = false
        options.files = files
        options.extraLighttpdConfig = Self.including(snippet, htpasswd: htpasswd)
        return try await LighttpdHarness.start(options) { directory in
            IdentityIntegrationTests.config(directory: directory, identity: identity)
        }
    }

    /// The `service_tokens` entry for a token from `sluice token new`.
    static func serviceTokens(_ ci: (token: String, sha256: String)) -> String {
        #"service_tokens: [{ name: "ci", sha256: "\#(ci.sha256)", roles: ["operator"], expires: "2999-12-31" }],"#
    }

    /// Two assertion sources sharing `jwks.json`: `idp` reads the header `X-Test-Assertion` (as an
    /// identity-aware proxy's assertion), `oidc` reads `Authorization: Bearer <JWT>`.
    static let assertionSources = """
        assertions: [
          { name: "idp", header: "X-Test-Assertion", issuer: "\(IdentityIntegrationTests.issuer)",
            audience: "\(IdentityIntegrationTests.audience)", algorithms: ["ES256"], jwks_file: "jwks.json",
            user_claim: "sub", groups_claim: "groups" },
          { name: "oidc", preset: "oidc", issuer: "\(IdentityIntegrationTests.issuer)",
            audience: "\(IdentityIntegrationTests.audience)", jwks_file: "jwks.json", groups_claim: "groups" },
        ],
        """

    /// `GET` target that needs an identity and names it (`user`, `source`, `source_name`).
    static let whoami = LighttpdHarness.mountPath + "/api/v1/whoami"

    // MARK: - Who answered

    /// Whether Sluice produced the response (it stamps every response with `X-Request-Id`).
    static func isFromSluice(_ response: HTTPClient.Response) -> Bool {
        response.header("X-Request-Id") != nil
    }

    /// Whether the response is lighttpd's own basic-auth refusal: 401, a `Basic` challenge, and
    /// no sign of Sluice.
    static func isBasicChallenge(_ response: HTTPClient.Response) -> Bool {
        response.status == 401 && !Self.isFromSluice(response)
            && response.header("WWW-Authenticate")?.lowercased().hasPrefix("basic ") == true
    }

    /// Whether the response is Sluice's own 401: no basic-auth challenge, so a client is not sent
    /// back to a password prompt for a bad token.
    static func isSluiceRefusal(_ response: HTTPClient.Response) -> Bool {
        response.status == 401 && Self.isFromSluice(response)
            && !(response.header("WWW-Authenticate")?.lowercased().hasPrefix("basic") ?? false)
    }

    // MARK: - (a) Basic only

    @Test("identity-basic.conf: passwords work; every bearer token gets lighttpd's basic challenge and never reaches Sluice")
    func basicOnly() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let ci = try IdentityIntegrationTests.newServiceToken(name: "ci", roles: "operator")
        // Sluice would accept the token if it ever saw it: the snippet alone must stop it.
        let harness = try await Self.start(.basic, fixture: fixture, identity: "remote_user: {},\n" + Self.serviceTokens(ci))
        defer { harness.shutdown() }
        let client = harness.client

        let health = try client.send("GET", LighttpdHarness.mountPath + "/healthz")
        #expect(health.status == 200 && Self.isFromSluice(health), "healthz needs no identity: \(health)")

        let anonymous = try client.send("GET", Self.whoami)
        #expect(Self.isBasicChallenge(anonymous), "no credentials: \(anonymous.status) \(anonymous.headers)")
        // lighttpd's own 401 under the API is Sluice's JSON error shape; on pages it stays HTML.
        #expect(anonymous.header("Content-Type") == "application/json", "\(anonymous.headers)")
        let anonymousError = (try? anonymous.jsonObject())?["error"] as? [String: Any]
        #expect(
            anonymousError?["status"] as? Int == 401 && anonymousError?["message"] as? String == "authentication required", "\(anonymous)")
        let page = try client.send("GET", LighttpdHarness.mountPath + "/")
        #expect(Self.isBasicChallenge(page) && page.header("Content-Type")?.hasPrefix("text/html") == true, "\(page.headers)")
        let asset = try client.send("GET", LighttpdHarness.mountPath + "/static/app.css")
        #expect(Self.isBasicChallenge(asset), "static assets need a password too: \(asset.status) \(asset.headers)")

        let alice = try WhoAmI.decode(try client.send("GET", Self.whoami, as: "alice"))
        #expect(alice.user == "alice" && alice.source == "remote_user", "\(alice)")
        let wrongPassword = try client.send(
            "GET", Self.whoami, headers: [("Authorization", "Basic " + Data("alice:bob".utf8).base64EncodedString())])
        #expect(Self.isBasicChallenge(wrongPassword), "wrong password: \(wrongPassword.status) \(wrongPassword.headers)")

        for scheme in ["Bearer", "bearer", "BEARER"] {
            let response = try client.send("GET", Self.whoami, headers: [("Authorization", "\(scheme) \(ci.token)")])
            #expect(Self.isBasicChallenge(response), "\(scheme) service token: \(response.status) \(response.headers)")
        }
        let logs = harness.logs()
        #expect(!logs.contains("service token"), "a token reached Sluice:\n\(logs)")
        #expect(!logs.contains(ci.token), "the token is in a log")
    }

    // MARK: - (b) Bearer and assertions only

    @Test(
        "identity-bearer.conf: service tokens (any scheme case), OIDC tokens and assertion headers verified by Sluice; bad ones and Basic are Sluice's 401"
    )
    func bearerOnly() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let ci = try IdentityIntegrationTests.newServiceToken(name: "ci", roles: "operator")
        let jwks = try fixture.jwks(["ec-1"])
        let tokens = try fixture.mint([
            ["key": "ec-1", "payload": IdentityIntegrationTests.claims(fixture)],
            ["key": "ec-1", "payload": IdentityIntegrationTests.claims(fixture, ["exp": fixture.now - 3600])],
        ])
        let (valid, expired) = (tokens[0], tokens[1])
        // remote_user is trusted here on purpose (the docs say to leave it out with this mix): the
        // snippet alone must make sure that a Basic header authenticates nobody.
        let identity = "remote_user: {},\n" + Self.serviceTokens(ci) + "\n" + Self.assertionSources
        let harness = try await Self.start(.bearer, fixture: fixture, identity: identity, files: ["jwks.json": jwks])
        defer { harness.shutdown() }
        let client = harness.client

        let health = try client.send("GET", LighttpdHarness.mountPath + "/healthz")
        #expect(health.status == 200, "\(health)")
        let asset = try client.send("GET", LighttpdHarness.mountPath + "/static/app.css")
        #expect(asset.status == 200 && Self.isFromSluice(asset), "Sluice serves its assets without identity: \(asset)")

        let anonymous = try client.send("GET", Self.whoami)
        #expect(Self.isSluiceRefusal(anonymous), "no credentials: \(anonymous.status) \(anonymous.headers)")

        for scheme in ["Bearer", "bearer", "BEARER"] {
            let response = try client.send("GET", Self.whoami, headers: [("Authorization", "\(scheme) \(ci.token)")])
            let token = try WhoAmI.decode(response)
            #expect(token.user == "token:ci" && token.source == "service_token", "\(scheme): \(token)")
        }
        let trigger = try client.send(
            "POST", LighttpdHarness.mountPath + "/api/v1/pipelines/quick/jobs",
            headers: [("Authorization", "bearer \(ci.token)"), ("Content-Type", "application/json")], body: Array(#"{"params":{}}"#.utf8))
        #expect(trigger.status == 202, "a service token triggers: \(trigger)")

        let unknown = try client.send(
            "GET", Self.whoami, headers: [("Authorization", "Bearer slc_" + String(ci.token.dropFirst(4).reversed()))])
        #expect(Self.isSluiceRefusal(unknown), "unknown service token: \(unknown.status) \(unknown.headers)")

        let oidc = try WhoAmI.decode(try client.send("GET", Self.whoami, headers: [("Authorization", "Bearer \(valid)")]))
        #expect(oidc.user == "dana" && oidc.sourceName == "oidc", "\(oidc)")
        let oidcExpired = try client.send("GET", Self.whoami, headers: [("Authorization", "Bearer \(expired)")])
        #expect(Self.isSluiceRefusal(oidcExpired), "expired OIDC token: \(oidcExpired.status) \(oidcExpired.headers)")

        let assertion = try WhoAmI.decode(try client.send("GET", Self.whoami, headers: [("X-Test-Assertion", valid)]))
        #expect(assertion.user == "dana" && assertion.sourceName == "idp", "\(assertion)")
        let assertionExpired = try client.send("GET", Self.whoami, headers: [("X-Test-Assertion", expired)])
        #expect(Self.isSluiceRefusal(assertionExpired), "expired assertion: \(assertionExpired.status) \(assertionExpired.headers)")

        // Nobody checks a password under this mix, so lighttpd sets no REMOTE_USER for it.
        let basic = try client.send("GET", Self.whoami, as: "alice")
        #expect(Self.isSluiceRefusal(basic), "Basic with a right password: \(basic.status) \(basic.headers)")

        let logs = harness.logs()
        #expect(logs.contains("unknown service token"), "\(logs)")
        #expect(!logs.contains(ci.token), "the token is in a log")
    }

    // MARK: - (c) Basic and bearer

    /// Mix (c) with service tokens and REMOTE_USER, and no source that reads a Bearer value
    /// other than `slc_…`: a `Bearer x` is then "no credentials" to Sluice, so a REMOTE_USER that
    /// leaked onto such a request would decide it and show up as a 200.
    static func startBasicAndBearer(_ fixture: IdentityFixture, _ ci: (token: String, sha256: String)) async throws -> LighttpdHarness {
        try await Self.start(.basicAndBearer, fixture: fixture, identity: "remote_user: {},\n" + Self.serviceTokens(ci))
    }

    @Test(
        "identity-basic-and-bearer.conf: Basic and Bearer/bearer/BEARER work; a bad bearer is Sluice's 401; no credentials get the basic challenge"
    )
    func basicAndBearer() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let ci = try IdentityIntegrationTests.newServiceToken(name: "ci", roles: "operator")
        let harness = try await Self.startBasicAndBearer(fixture, ci)
        defer { harness.shutdown() }
        let client = harness.client

        let health = try client.send("GET", LighttpdHarness.mountPath + "/healthz")
        #expect(health.status == 200, "\(health)")
        let anonymous = try client.send("GET", Self.whoami)
        #expect(Self.isBasicChallenge(anonymous), "no credentials: \(anonymous.status) \(anonymous.headers)")
        let asset = try client.send("GET", LighttpdHarness.mountPath + "/static/app.css")
        #expect(Self.isBasicChallenge(asset), "static assets still need a password: \(asset.status) \(asset.headers)")

        let alice = try WhoAmI.decode(try client.send("GET", Self.whoami, as: "alice"))
        #expect(alice.user == "alice" && alice.source == "remote_user", "\(alice)")
        let wrongPassword = try client.send(
            "GET", Self.whoami, headers: [("Authorization", "Basic " + Data("alice:bob".utf8).base64EncodedString())])
        #expect(Self.isBasicChallenge(wrongPassword), "wrong password: \(wrongPassword.status) \(wrongPassword.headers)")

        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let response = try client.send("GET", Self.whoami, headers: [("Authorization", "\(scheme) \(ci.token)")])
            let token = try WhoAmI.decode(response)
            #expect(token.user == "token:ci" && token.source == "service_token", "\(scheme): \(token)")
        }
        let trigger = try client.send(
            "POST", LighttpdHarness.mountPath + "/api/v1/pipelines/quick/jobs",
            headers: [("Authorization", "bearer \(ci.token)"), ("Content-Type", "application/json")], body: Array(#"{"params":{}}"#.utf8))
        #expect(trigger.status == 202, "a service token triggers: \(trigger)")

        // Bad bearer credentials reach Sluice and are refused there: no fallback to a password prompt.
        let unknown = "slc_" + String(ci.token.dropFirst(4).reversed())
        for (name, value) in [
            ("unknown service token", "Bearer \(unknown)"), ("not a token at all", "Bearer x"), ("bearer junk", "bearer 12345"),
        ] {
            let response = try client.send("GET", Self.whoami, headers: [("Authorization", value)])
            #expect(Self.isSluiceRefusal(response), "\(name): \(response.status) \(response.headers)")
        }

        // Only the Authorization header's own scheme, at its start, followed by a space, skips the password.
        let needPassword: [(String, [(String, String)])] = [
            ("Bearer without a token", [("Authorization", "Bearer")]),
            ("no space after the scheme", [("Authorization", "Bearer\(ci.token)")]),
            ("a tab after the scheme", [("Authorization", "Bearer\t\(ci.token)")]),
            ("Bearer not at the start", [("Authorization", "Token Bearer \(ci.token)")]),
            ("a longer scheme name", [("Authorization", "Bearerx \(ci.token)")]),
            ("Bearer in another header", [("X-Authorization", "Bearer \(ci.token)")]),
        ]
        for (name, headers) in needPassword {
            let response = try client.send("GET", Self.whoami, headers: headers)
            #expect(Self.isBasicChallenge(response), "\(name): \(response.status) \(response.headers)")
        }

        // Two Authorization lines, the Bearer one first and a right password second: lighttpd joins
        // them ("Bearer x, Basic …"), the request skips the password check, and Sluice finds no
        // valid credential in it, so the password counts for nothing.
        let twoLines = try client.send(
            "GET", Self.whoami,
            headers: [("Authorization", "Bearer x"), ("Authorization", "Basic " + Data("alice:alice".utf8).base64EncodedString())])
        #expect(Self.isSluiceRefusal(twoLines), "Bearer line then Basic line: \(twoLines.status) \(twoLines.headers)")

        let logs = harness.logs()
        #expect(logs.contains("unknown service token"), "\(logs)")
        #expect(!logs.contains(ci.token), "the token is in a log")
    }

    /// `keepalive.py PORT TARGET HEADERS_JSON`: sends one GET per header set over ONE kept-alive
    /// HTTP/1.1 connection (Python's http.client) and prints, per request, the status, whether
    /// `X-Request-Id` was present, the local port of the connection used, and for a 200 the
    /// `user` of the whoami document.
    static let keepAliveClient = #"""
        import http.client, json, sys
        port, target, requests = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        results = []
        for headers in requests:
            connection.request("GET", target, headers=headers)
            local_port = connection.sock.getsockname()[1]
            response = connection.getresponse()
            body = response.read()
            user = json.loads(body).get("user") if response.status == 200 else None
            results.append({"status": response.status, "sluice": response.getheader("X-Request-Id") is not None,
                            "port": local_port, "user": user})
        print(json.dumps(results))
        """#

    @Test("identity-basic-and-bearer.conf: on one kept-alive connection, a Bearer request after a Basic one carries no REMOTE_USER")
    func basicAndBearerKeepAlive() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let ci = try IdentityIntegrationTests.newServiceToken(name: "ci", roles: "operator")
        let harness = try await Self.startBasicAndBearer(fixture, ci)
        defer { harness.shutdown() }

        try Self.keepAliveClient.write(toFile: fixture.directory + "/keepalive.py", atomically: true, encoding: .utf8)
        let basic = ["Authorization": "Basic " + Data("alice:alice".utf8).base64EncodedString()]
        let sequence = [
            basic, ["Authorization": "Bearer x"], basic, ["Authorization": "Bearer \(ci.token)"], ["Authorization": "bearer y"],
        ]
        let arguments = String(decoding: try JSONSerialization.data(withJSONObject: sequence), as: UTF8.self)
        let run = try ChildProcess.run(
            "/usr/bin/env", ["python3", fixture.directory + "/keepalive.py", "\(harness.port)", Self.whoami, arguments])
        #expect(run.status == 0, "\(run.stderr)")
        let results = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], "output: \(run.stdout) \(run.stderr)")
        try #require(results.count == sequence.count, "\(results)")

        let ports = Set(results.compactMap { $0["port"] as? Int })
        #expect(ports.count == 1, "all requests must share one connection: \(results)")
        let statuses = results.map { $0["status"] as? Int ?? -1 }
        #expect(statuses == [200, 401, 200, 200, 401], "\(results)")
        #expect(results.allSatisfy { $0["sluice"] as? Bool == true }, "Sluice answered every one: \(results)")
        let users = results.map { $0["user"] as? String ?? "-" }
        #expect(users == ["alice", "-", "alice", "token:ci", "-"], "\(results)")
    }

    @Test("identity-basic-and-bearer.conf: an OIDC access token as Bearer is verified by Sluice; an expired one is Sluice's 401")
    func basicAndBearerOIDC() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let ci = try IdentityIntegrationTests.newServiceToken(name: "ci", roles: "operator")
        let jwks = try fixture.jwks(["ec-1"])
        let tokens = try fixture.mint([
            ["key": "ec-1", "payload": IdentityIntegrationTests.claims(fixture)],
            ["key": "ec-1", "payload": IdentityIntegrationTests.claims(fixture, ["exp": fixture.now - 3600])],
        ])
        let identity = "remote_user: {},\n" + Self.serviceTokens(ci) + "\n" + Self.assertionSources
        let harness = try await Self.start(.basicAndBearer, fixture: fixture, identity: identity, files: ["jwks.json": jwks])
        defer { harness.shutdown() }
        let client = harness.client

        let oidc = try WhoAmI.decode(try client.send("GET", Self.whoami, headers: [("Authorization", "Bearer \(tokens[0])")]))
        #expect(oidc.user == "dana" && oidc.sourceName == "oidc", "\(oidc)")
        #expect(oidc.role("operator")?.via == "group data-eng", "\(oidc.roles)")
        let expired = try client.send("GET", Self.whoami, headers: [("Authorization", "bearer \(tokens[1])")])
        #expect(Self.isSluiceRefusal(expired), "expired: \(expired.status) \(expired.headers)")
        let token = try WhoAmI.decode(try client.send("GET", Self.whoami, headers: [("Authorization", "BEARER \(ci.token)")]))
        #expect(token.user == "token:ci", "\(token)")
        let alice = try WhoAmI.decode(try client.send("GET", Self.whoami, as: "alice"))
        #expect(alice.user == "alice", "\(alice)")

        // An assertion header is not a Bearer credential: under this mix it still needs a password.
        let assertion = try client.send("GET", Self.whoami, headers: [("X-Test-Assertion", tokens[0])])
        #expect(Self.isBasicChallenge(assertion), "assertion header without a password: \(assertion.status) \(assertion.headers)")
    }
}
