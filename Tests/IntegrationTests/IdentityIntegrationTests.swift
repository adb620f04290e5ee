import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end tests of Sluice's identity sources behind a real lighttpd: signed assertions (from a
/// JWKS file and from a JWKS over HTTPS with rotation), Bearer assertions, service tokens and
/// trusted proxy headers, plus `sluice explain --token`.
///
/// Tokens are minted at test time by Python's `cryptography` (`IdentityFixture`), which shares no
/// code with Sluice. Unless a test says otherwise, lighttpd requires no basic auth here, so every
/// identity comes from what Sluice itself checks. Each test starts its own lighttpd.
@Suite("Identity sources behind a real lighttpd", .serialized, .timeLimit(.minutes(3)))
struct IdentityIntegrationTests {
    static let issuer = "https://idp.test"
    static let audience = "sluice-test"

    // MARK: - Configs

    /// Roles used by every test: `operator` through the group `data-eng`, `viewer` for everyone
    /// (the default role), and one instant pipeline.
    static func config(directory: String, identity: String) -> String {
        """
        // Written by IdentityIntegrationTests.
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, parallelism: 2, metrics_peers: ["127.0.0.1"] },
          identity: {
            default_role: "viewer",
            \(identity)
          },
          roles: {
            operator: { groups: ["data-eng"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger"] }] },
            viewer:   { grants: [{ pipelines: ["*"], verbs: ["view"] }] },
          },
          pipelines: {
            quick: { description: "One instant task", tasks: { only: { run: ["/bin/echo", "done"] } } },
          },
        }

        """
    }

    /// Options for a lighttpd that authenticates nobody itself.
    static func withoutBasicAuth(files: [String: String] = [:]) -> LighttpdHarness.Options {
        var options = LighttpdHarness.Options()
        options.requireBasicAuth = false
        options.files = files
        return options
    }

    /// Claims that a source configured with `issuer` and `audience` accepts, for user `dana`.
    static func claims(_ fixture: IdentityFixture, _ overrides: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": Self.issuer, "aud": Self.audience, "sub": "dana", "groups": ["data-eng", "analysts"],
            "iat": fixture.now, "nbf": fixture.now - 5, "exp": fixture.now + 600,
        ]
        for (name, value) in overrides {
            if value is NSNull { claims.removeValue(forKey: name) } else { claims[name] = value }
        }
        return claims
    }

    /// Compact JSON text of `object` with sorted keys, grown with a filler member until its length
    /// is not a multiple of 3, so that its base64url encoding needs `=` padding.
    static func textNeedingPadding(_ object: [String: Any]) throws -> String {
        var object = object
        var filler = ""
        while true {
            object["_fill"] = filler
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            if text.utf8.count % 3 != 0 { return text }
            filler += "x"
        }
    }

    // MARK: - 1. Signed assertions (JWKS file), custom header and Bearer

    /// How the token travels.
    enum Carrier: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// `X-Test-Assertion: <jwt>`, like an identity-aware proxy's assertion header.
        case header
        /// `Authorization: Bearer <jwt>` through an `oidc` preset source.
        case bearer

        var testDescription: String { self == .header ? "X-Test-Assertion header" : "Authorization: Bearer" }

        /// The name of the configured source.
        var sourceName: String { self == .header ? "idp" : "oidc" }

        /// The `identity.assertions` entry.
        var sourceConfig: String {
            switch self {
            case .header:
                """
                assertions: [{ name: "idp", header: "X-Test-Assertion", issuer: "\(IdentityIntegrationTests.issuer)",
                               audience: ["other-app", "\(IdentityIntegrationTests.audience)"], algorithms: ["ES256", "RS256"],
                               jwks_file: "jwks.json", user_claim: "sub", groups_claim: "groups", leeway_seconds: 30 }],
                """
            case .bearer:
                """
                assertions: [{ name: "oidc", preset: "oidc", issuer: "\(IdentityIntegrationTests.issuer)",
                               audience: "\(IdentityIntegrationTests.audience)", jwks_file: "jwks.json", groups_claim: "groups" }],
                """
            }
        }

        func headers(_ token: String) -> [(String, String)] {
            self == .header ? [("X-Test-Assertion", token)] : [("Authorization", "Bearer \(token)")]
        }
    }

    /// What the server must do with a token.
    enum Outcome {
        /// 200, as `dana` with the groups `analysts` and `data-eng`.
        case accepted
        /// 401, and the log line of the request names this `AssertionError.Code` (`expired`,
        /// `signature`...): the token must be stopped by the check meant for it, not by accident.
        case refused(String)
    }

    /// One token and what the server must answer to it.
    struct Case {
        let name: String
        let token: String
        let outcome: Outcome

        var status: Int {
            if case .accepted = self.outcome { 200 } else { 401 }
        }
    }

    /// Valid and invalid tokens for the keys `ec-1` and `rsa-1` (published) and `ec-2`, `evil-1`
    /// (never published).
    static func assertionCases(_ fixture: IdentityFixture) throws -> [Case] {
        let valid = Self.claims(fixture)
        let ecHeader: [String: Any] = ["alg": "ES256", "kid": "ec-1", "typ": "JWT"]
        var specs: [(String, Outcome, [String: Any])] = [
            ("ES256, groups as an array", .accepted, ["key": "ec-1", "header": ecHeader, "payload": valid]),
            (
                "RS256, groups as a comma-separated string", .accepted,
                ["key": "rsa-1", "payload": Self.claims(fixture, ["groups": "data-eng, analysts"])]
            ),
            (
                "aud as an array holding our audience", .accepted,
                ["key": "ec-1", "payload": Self.claims(fixture, ["aud": ["x", Self.audience]])]
            ),
            (
                "expired 10 s ago, within the 30 s leeway", .accepted,
                ["key": "ec-1", "payload": Self.claims(fixture, ["exp": fixture.now - 10])]
            ),
            ("expired an hour ago", .refused("expired"), ["key": "ec-1", "payload": Self.claims(fixture, ["exp": fixture.now - 3600])]),
            ("no exp", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["exp": NSNull()])]),
            ("exp as a string", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["exp": "\(fixture.now + 600)"])]),
            (
                "nbf an hour ahead", .refused("not_yet_valid"),
                ["key": "ec-1", "payload": Self.claims(fixture, ["nbf": fixture.now + 3600])]
            ),
            (
                "iat an hour ahead", .refused("not_yet_valid"),
                ["key": "ec-1", "payload": Self.claims(fixture, ["iat": fixture.now + 3600])]
            ),
            ("wrong issuer", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["iss": "https://idp.test/"])]),
            ("wrong audience", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["aud": "sluice-test-2"])]),
            ("aud array without our audience", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["aud": ["a", "b"]])]),
            ("sub not a string", .refused("claims"), ["key": "ec-1", "payload": Self.claims(fixture, ["sub": 42])]),
            (
                "a group that is not a string", .refused("claims"),
                ["key": "ec-1", "payload": Self.claims(fixture, ["groups": ["data-eng", 7]])]
            ),
            (
                "alg none, empty signature", .refused("malformed"),
                ["key": "ec-1", "sign": "none", "header": ["alg": "none", "typ": "JWT"], "payload": valid]
            ),
            (
                "alg none with a signature segment", .refused("algorithm"),
                ["key": "ec-1", "sign": "none", "header": ["alg": "none"], "payload": valid, "signature": "c2lnbmF0dXJl"]
            ),
            (
                "alg NoNe", .refused("algorithm"),
                ["key": "ec-1", "sign": "none", "header": ["alg": "NoNe", "kid": "ec-1"], "payload": valid, "signature": "c2lnbmF0dXJl"]
            ),
            (
                "HS256 keyed with the RSA public key's PEM", .refused("algorithm"),
                [
                    "key": "rsa-1", "sign": "HS256", "header": ["alg": "HS256", "kid": "rsa-1"], "payload": valid,
                    "hmac_secret_of": "rsa-1", "hmac_secret_form": "pem",
                ]
            ),
            (
                "HS256 keyed with the RSA JWK's n bytes", .refused("algorithm"),
                [
                    "key": "rsa-1", "sign": "HS256", "header": ["alg": "HS256", "kid": "rsa-1"], "payload": valid,
                    "hmac_secret_of": "rsa-1", "hmac_secret_form": "n",
                ]
            ),
            ("unknown kid", .refused("unknown_key"), ["key": "ec-2", "header": ["alg": "ES256", "kid": "ec-2"], "payload": valid]),
            (
                "published kid, but signed by another key", .refused("signature"),
                ["key": "ec-2", "header": ["alg": "ES256", "kid": "ec-1"], "payload": valid]
            ),
            (
                "RS256 naming the EC key's kid", .refused("unknown_key"),
                ["key": "rsa-1", "header": ["alg": "RS256", "kid": "ec-1"], "payload": valid]
            ),
            (
                "tampered payload (sub changed after signing)", .refused("signature"),
                ["key": "ec-1", "payload": valid, "tamper_payload": Self.claims(fixture, ["sub": "admin"])]
            ),
            ("padded signature segment", .refused("malformed"), ["key": "ec-1", "payload": valid, "pad": ["signature"]]),
            ("padded RS256 signature segment", .refused("malformed"), ["key": "rsa-1", "payload": valid, "pad": ["signature"]]),
            (
                "duplicate alg in the header (ES256 first)", .refused("malformed"),
                ["key": "ec-1", "raw_header": #"{"alg":"ES256","kid":"ec-1","alg":"none"}"#, "payload": valid]
            ),
            (
                "duplicate alg in the header (ES256 last)", .refused("malformed"),
                ["key": "ec-1", "raw_header": #"{"alg":"none","kid":"ec-1","alg":"ES256"}"#, "payload": valid]
            ),
            (
                "duplicate kid in the header", .refused("malformed"),
                ["key": "ec-1", "raw_header": #"{"alg":"ES256","kid":"nope","kid":"ec-1"}"#, "payload": valid]
            ),
            (
                "crit in the header", .refused("malformed"),
                ["key": "ec-1", "header": ["alg": "ES256", "kid": "ec-1", "crit": ["exp"], "exp": 1], "payload": valid]
            ),
            (
                "cty JWT (nested token)", .refused("malformed"),
                ["key": "ec-1", "header": ["alg": "ES256", "kid": "ec-1", "cty": "JWT"], "payload": valid]
            ),
            (
                "embedded attacker jwk, no kid, signed by the attacker", .refused("signature"),
                ["key": "evil-1", "header": ["alg": "ES256"], "embed_jwk": "evil-1", "payload": valid]
            ),
            (
                "embedded attacker jwk with the attacker's kid", .refused("unknown_key"),
                ["key": "evil-1", "header": ["alg": "ES256", "kid": "evil-1"], "embed_jwk": "evil-1", "payload": valid]
            ),
            (
                "embedded attacker jwk claiming the published kid", .refused("signature"),
                ["key": "evil-1", "header": ["alg": "ES256", "kid": "ec-1"], "embed_jwk": "evil-1", "payload": valid]
            ),
        ]

        // Padding in the signed segments: the same texts unpadded are the control, so the only
        // difference between a 200 and a 401 is the `=`.
        let paddedHeader = try Self.textNeedingPadding(["alg": "ES256", "kid": "ec-1"])
        let paddedPayload = try Self.textNeedingPadding(valid)
        specs += [
            (
                "unpadded control for the padding cases", .accepted,
                ["key": "ec-1", "raw_header": paddedHeader, "raw_payload": paddedPayload]
            ),
            (
                "padded header segment", .refused("malformed"),
                ["key": "ec-1", "raw_header": paddedHeader, "raw_payload": paddedPayload, "pad": ["header"]]
            ),
            (
                "padded payload segment", .refused("malformed"),
                ["key": "ec-1", "raw_header": paddedHeader, "raw_payload": paddedPayload, "pad": ["payload"]]
            ),
            (
                "duplicate sub in the payload", .refused("claims"),
                [
                    "key": "ec-1", "header": ecHeader,
                    "raw_payload": String(paddedPayload.dropLast()) + #","sub":"admin"}"#,
                ]
            ),
        ]

        let tokens = try fixture.mint(specs.map(\.2))
        var cases = zip(specs, tokens).map { Case(name: $0.0.0, token: $0.1, outcome: $0.0.1) }
        if let valid = cases.first {
            cases.append(Case(name: "a fourth segment", token: valid.token + ".e30", outcome: .refused("malformed")))
            cases.append(
                Case(
                    name: "whitespace inside the token", token: valid.token.replacingOccurrences(of: ".", with: ". "),
                    outcome: .refused("malformed")))
        }
        return cases
    }

    @Test("signed assertions: valid ES256/RS256 accepted with group roles, every J-list attack refused", arguments: Carrier.allCases)
    func signedAssertions(carrier: Carrier) async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let jwks = try fixture.jwks(["ec-1", "rsa-1"])

        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth(files: ["jwks.json": jwks])) { directory in
            Self.config(directory: directory, identity: carrier.sourceConfig)
        }
        defer { harness.shutdown() }
        let client = harness.client
        // Minted once the server runs: "expired 10 s ago, within the 30 s leeway" stays within
        // it only if it is sent soon after (a loaded CI machine once took 20 s to start lighttpd).
        let cases = try Self.assertionCases(fixture)

        let anonymous = try client.send("GET", "/sluice/api/v1/whoami")
        #expect(anonymous.status == 401, "no credentials at all: \(anonymous)")

        for testCase in cases {
            let response = try client.send("GET", "/sluice/api/v1/whoami", headers: carrier.headers(testCase.token))
            #expect(response.status == testCase.status, "\(testCase.name): \(response)")
            if case .refused(let code) = testCase.outcome {
                let line = harness.logLine(of: response)
                #expect(
                    line?.contains("assertion source \(carrier.sourceName): \(code): ") == true,
                    "\(testCase.name): expected a refusal for \(code), logged: \(line ?? "nothing")")
            }
            guard testCase.status == 200, response.status == 200 else { continue }
            let whoami = try WhoAmI.decode(response)
            #expect(whoami.user == "dana", "\(testCase.name)")
            #expect(whoami.source == "assertion", "\(testCase.name)")
            #expect(whoami.sourceName == carrier.sourceName, "\(testCase.name)")
            #expect(whoami.groups == ["analysts", "data-eng"], "\(testCase.name)")
            #expect(whoami.role("operator")?.via == "group data-eng", "\(testCase.name): \(whoami.roles)")
            #expect(whoami.role("viewer")?.via == "default role", "\(testCase.name): \(whoami.roles)")
            #expect(whoami.verbs(on: "quick") == ["trigger", "view"], "\(testCase.name): \(whoami.pipelines)")
        }

        // The HTML page says the same.
        let page = try client.send("GET", "/sluice/whoami", headers: carrier.headers(cases[0].token))
        #expect(page.status == 200, "\(page)")
        #expect(page.header("Content-Type")?.hasPrefix("text/html") == true, "\(page.headers)")
        #expect(page.text.contains("dana") && page.text.contains("data-eng"), "\(page)")

        // Refusals are logged with at most a digest prefix: no token, and no signature segment, in the log.
        let logs = harness.logs()
        #expect(logs.contains("authentication failed"), "refusals should be logged\n\(logs)")
        for testCase in cases {
            #expect(!logs.contains(testCase.token), "\(testCase.name): the token is in the log")
            if let signature = testCase.token.split(separator: ".").last, signature.count >= 16 {
                #expect(!logs.contains(signature), "\(testCase.name): the signature segment is in the log")
            }
        }
    }

    // MARK: - 2. Present but invalid never falls through

    @Test("basic auth as alice plus an invalid assertion header is 401, not alice")
    func invalidAssertionBeatsBasicAuth() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let jwks = try fixture.jwks(["ec-1"])
        let tokens = try fixture.mint([
            ["key": "ec-1", "payload": Self.claims(fixture)],
            ["key": "ec-1", "payload": Self.claims(fixture, ["exp": fixture.now - 3600])],
        ])
        var options = LighttpdHarness.Options()  // lighttpd requires basic auth: REMOTE_USER is set
        options.files = ["jwks.json": jwks]
        let harness = try await LighttpdHarness.start(options) { directory in
            Self.config(
                directory: directory,
                identity: """
                    remote_user: {},
                    assertions: [{ name: "idp", header: "X-Test-Assertion", issuer: "\(Self.issuer)", audience: "\(Self.audience)",
                                   algorithms: ["ES256"], jwks_file: "jwks.json", groups_claim: "groups" }],
                    """)
        }
        defer { harness.shutdown() }
        let client = harness.client

        let alice = try WhoAmI.decode(try client.send("GET", "/sluice/api/v1/whoami", as: "alice"))
        #expect(alice.user == "alice" && alice.source == "remote_user", "\(alice)")

        for (name, value) in [("expired assertion", tokens[1]), ("garbage assertion", "not-a-jwt"), ("three junk segments", "a.b.c")] {
            let response = try client.send("GET", "/sluice/api/v1/whoami", as: "alice", headers: [("X-Test-Assertion", value)])
            #expect(response.status == 401, "\(name) next to alice's basic auth: \(response)")
        }

        // A valid assertion outranks REMOTE_USER (the chain's documented order).
        let dana = try WhoAmI.decode(
            try client.send("GET", "/sluice/api/v1/whoami", as: "alice", headers: [("X-Test-Assertion", tokens[0])]))
        #expect(dana.user == "dana" && dana.source == "assertion", "\(dana)")
    }

    @Test("an invalid assertion or service token next to a trusted proxy's user header is 401")
    func invalidCredentialsBeatProxyHeaders() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let jwks = try fixture.jwks(["ec-1"])
        let tokens = try fixture.mint([
            ["key": "ec-1", "payload": Self.claims(fixture)],
            ["key": "ec-1", "payload": Self.claims(fixture, ["exp": fixture.now - 3600])],
            ["key": "ec-2", "header": ["alg": "ES256", "kid": "ec-2"], "payload": Self.claims(fixture)],
        ])
        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth(files: ["jwks.json": jwks])) { directory in
            Self.config(
                directory: directory,
                identity: """
                    assertions: [{ name: "idp", header: "X-Test-Assertion", issuer: "\(Self.issuer)", audience: "\(Self.audience)",
                                   algorithms: ["ES256"], jwks_file: "jwks.json", groups_claim: "groups" }],
                    proxy_headers: { user: "X-Forwarded-User", groups: "X-Forwarded-Groups", trusted_peers: ["127.0.0.1/32"] },
                    service_tokens: [{ name: "ci", sha256: "\(String(repeating: "ab", count: 32))", roles: ["operator"] }],
                    """)
        }
        defer { harness.shutdown() }
        let client = harness.client
        let proxy = [("X-Forwarded-User", "erin"), ("X-Forwarded-Groups", "ops")]

        let erin = try WhoAmI.decode(try client.send("GET", "/sluice/api/v1/whoami", headers: proxy))
        #expect(erin.user == "erin" && erin.source == "proxy_headers" && erin.groups == ["ops"], "\(erin)")

        let invalid: [(String, (String, String))] = [
            ("expired assertion", ("X-Test-Assertion", tokens[1])),
            ("assertion with an unknown kid", ("X-Test-Assertion", tokens[2])),
            ("malformed assertion", ("X-Test-Assertion", "eyJhbGciOiJub25lIn0.e30.")),
            ("unknown service token", ("Authorization", "Bearer slc_unknownunknownunknownunknownunknownunknown")),
        ]
        for (name, header) in invalid {
            let response = try client.send("GET", "/sluice/api/v1/whoami", headers: [header] + proxy)
            #expect(response.status == 401, "\(name) plus a trusted X-Forwarded-User: \(response)")
        }

        let dana = try WhoAmI.decode(try client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Test-Assertion", tokens[0])] + proxy))
        #expect(dana.user == "dana" && dana.source == "assertion", "\(dana)")
    }

    // MARK: - 3. JWKS over HTTPS: rotation and the refetch cooldown

    static func remoteSourceConfig(url: String, cooldown: Int) -> String {
        """
        assertions: [{ name: "idp", header: "X-Test-Assertion", issuer: "\(Self.issuer)", audience: "\(Self.audience)",
                       algorithms: ["ES256", "RS256"], jwks_url: "\(url)", jwks_max_age_seconds: 600,
                       jwks_cooldown_seconds: \(cooldown), groups_claim: "groups" }],
        """
    }

    /// Starts lighttpd with sluice trusting `server`'s certificate and logging at info (so the log
    /// shows each JWKS fetch and why).
    static func startTrusting(_ server: JWKSServer, cooldown: Int) async throws -> LighttpdHarness {
        var options = Self.withoutBasicAuth()
        options.launcher = try server.launcher()
        options.sluiceEnvironment = ["SLUICE_LOG_LEVEL": "info"]
        return try await LighttpdHarness.start(options) { directory in
            Self.config(directory: directory, identity: Self.remoteSourceConfig(url: server.url("jwks.json"), cooldown: cooldown))
        }
    }

    @Test(
        "JWKS over HTTPS: fetched on first use, refetched for a new kid, a removed key refused after a refetch",
        .enabled(if: JWKSServer.canTrustTestCertificate, "needs unshare and a mount namespace to make sluice trust the test CA"))
    func jwksRotation() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let server = try await JWKSServer(fixture: fixture)
        defer { server.stop() }
        try server.publish(try fixture.jwks(["ec-a"]))
        let tokens = try fixture.mint([
            ["key": "ec-a", "payload": Self.claims(fixture)],
            ["key": "rsa-b", "payload": Self.claims(fixture, ["sub": "bert"])],
            ["key": "ec-c", "payload": Self.claims(fixture, ["sub": "cleo"])],
        ])
        let (tokenA, tokenB, tokenC) = (tokens[0], tokens[1], tokens[2])

        let harness = try await Self.startTrusting(server, cooldown: 1)
        defer { harness.shutdown() }
        let client = harness.client
        func send(_ token: String) throws -> HTTPClient.Response {
            try client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Test-Assertion", token)])
        }
        #expect(server.requestCount() == 0, "nothing is fetched before the first verification")

        let first = try send(tokenA)
        #expect(first.status == 200, "key A, published: \(first)\n\(harness.logs())")
        #expect(server.requestCount() == 1, "one fetch on first use")

        // Rotation: A and B published. B's kid is unknown to the cached set, so sluice refetches
        // (once the 1 s cooldown since the last fetch has passed).
        try server.publish(try fixture.jwks(["ec-a", "rsa-b"]))
        let bAccepted = try await Poll.until(within: .seconds(10), every: .milliseconds(250)) { try send(tokenB).status == 200 }
        #expect(bAccepted, "key B was never accepted after it was published\n\(harness.logs())")
        #expect(server.requestCount() == 2, "exactly one refetch for the new kid")
        let bert = try WhoAmI.decode(try send(tokenB))
        #expect(bert.user == "bert" && bert.source == "assertion", "\(bert)")

        let stillA = try send(tokenA)
        #expect(stillA.status == 200, "A is still published: \(stillA)")
        #expect(server.requestCount() == 2, "a known kid needs no fetch")

        // A is withdrawn. A token with an unknown kid (C) makes sluice refetch; from then on A is refused.
        try server.publish(try fixture.jwks(["rsa-b"]))
        let refetched = try await Poll.until(within: .seconds(10), every: .milliseconds(250)) {
            let response = try send(tokenC)
            guard response.status == 401 else { throw HarnessError("unpublished key C accepted: \(response)") }
            return server.requestCount() >= 3
        }
        #expect(refetched, "no refetch after the cooldown\n\(harness.logs())")
        let withdrawn = try send(tokenA)
        #expect(withdrawn.status == 401, "A was withdrawn and the set refetched: \(withdrawn)")
        let stillB = try send(tokenB)
        #expect(stillB.status == 200, "B is still published: \(stillB)")

        // The fetches show in the metrics, as the JWKS server counted them.
        let metrics = try client.send("GET", "/sluice/metrics").text
        #expect(metrics.contains("sluice_jwks_fetches_total{source=\"idp\",result=\"ok\"} \(server.requestCount())\n"), "\(metrics)")
        #expect(metrics.contains("sluice_jwks_fetches_total{source=\"idp\",result=\"error\"} 0\n"), "\(metrics)")
    }

    @Test(
        "JWKS over HTTPS: a storm of 50 unknown kids within the cooldown costs at most one fetch",
        .enabled(if: JWKSServer.canTrustTestCertificate, "needs unshare and a mount namespace to make sluice trust the test CA"))
    func unknownKidStorm() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let server = try await JWKSServer(fixture: fixture)
        defer { server.stop() }
        try server.publish(try fixture.jwks(["ec-a"]))
        var specs: [[String: Any]] = (0..<50).map { _ in
            ["key": "ec-a", "header": ["alg": "ES256", "kid": "storm-\(UUID().uuidString)"], "payload": Self.claims(fixture)]
        }
        specs.append(["key": "ec-a", "payload": Self.claims(fixture)])
        let tokens = try fixture.mint(specs)

        let harness = try await Self.startTrusting(server, cooldown: 30)
        defer { harness.shutdown() }
        let client = harness.client

        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 50) { index in
            let status =
                (try? client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Test-Assertion", tokens[index])]))?.status ?? -1
            statuses.withLock { $0.append(status) }
        }
        let seen = statuses.withLock { $0 }
        #expect(seen.count == 50 && seen.allSatisfy { $0 == 401 }, "every random kid is refused: \(seen)")
        #expect(server.requestCount() <= 1, "\(server.requestCount()) fetches for 50 unknown kids\n\(harness.logs())")

        let valid = try client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Test-Assertion", tokens[50])])
        #expect(valid.status == 200, "\(valid)\n\(harness.logs())")
        #expect(server.requestCount() == 1, "the first use fetched once; the storm added nothing")
    }

    @Test("JWKS over HTTPS from a server whose certificate sluice does not trust: no keys, 401")
    func untrustedJWKSServer() async throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        let server = try await JWKSServer(fixture: fixture)
        defer { server.stop() }
        try server.publish(try fixture.jwks(["ec-a"]))
        let token = try fixture.mint(["key": "ec-a", "payload": Self.claims(fixture)])

        // No launcher: sluice sees only the system CA bundle.
        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth()) { directory in
            Self.config(directory: directory, identity: Self.remoteSourceConfig(url: server.url("jwks.json"), cooldown: 30))
        }
        defer { harness.shutdown() }
        let response = try harness.client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Test-Assertion", token)])
        #expect(response.status == 401, "\(response)")
        #expect(server.requestCount() == 0, "the TLS handshake must fail before any request")
        #expect(harness.logs().contains("jwks fetch failed"), "\(harness.logs())")
    }

    // MARK: - 4. Service tokens

    /// A token from `sluice token new`, and the digest it printed for the config.
    static func newServiceToken(name: String, roles: String) throws -> (token: String, sha256: String) {
        let result = try ChildProcess.run(try LighttpdHarness.findSluiceBinary(), ["token", "new", name, "--roles", roles])
        guard result.status == 0 else { throw HarnessError("sluice token new failed (\(result.status)): \(result.stderr)") }
        let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let token = lines.first(where: { $0.hasPrefix("slc_") }),
            let range = result.stdout.range(of: #"sha256: "[0-9a-f]{64}""#, options: .regularExpression)
        else { throw HarnessError("cannot read the token and its sha256 from:\n\(result.stdout)") }
        let digest = result.stdout[range].dropFirst(#"sha256: ""#.count).dropLast()
        return (token, String(digest))
    }

    @Test("service tokens: Bearer works for whoami and for a JSON trigger; unknown and expired tokens are 401 and never logged")
    func serviceTokens() async throws {
        let ci = try Self.newServiceToken(name: "ci", roles: "operator")
        let old = try Self.newServiceToken(name: "old", roles: "operator")
        #expect(ci.token.utf8.count >= 40 && ci.token != old.token)
        let unknown = "slc_" + String(ci.token.dropFirst(4).reversed())

        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth()) { directory in
            Self.config(
                directory: directory,
                identity: """
                    service_tokens: [
                      { name: "ci", sha256: "\(ci.sha256)", roles: ["operator"], expires: "2999-12-31" },
                      { name: "old", sha256: "\(old.sha256)", roles: ["operator"], expires: "2020-01-01" },
                    ],
                    """)
        }
        defer { harness.shutdown() }
        let client = harness.client
        let bearer = [("Authorization", "Bearer \(ci.token)")]

        let whoami = try WhoAmI.decode(try client.send("GET", "/sluice/api/v1/whoami", headers: bearer))
        #expect(whoami.user == "token:ci", "\(whoami)")
        #expect(whoami.source == "service_token" && whoami.sourceName == "ci", "\(whoami)")
        #expect(whoami.role("operator")?.via == "assigned directly", "\(whoami.roles)")
        #expect(whoami.verbs(on: "quick") == ["trigger", "view"], "\(whoami.pipelines)")

        // A token is not an ambient credential: even a browser-style cross-site POST goes through.
        let extras: [[(String, String)]] = [[], [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]]
        for extra in extras {
            let accepted = try client.send(
                "POST", "/sluice/api/v1/pipelines/quick/jobs",
                headers: bearer + [("Content-Type", "application/json")] + extra, body: Array(#"{"params":{}}"#.utf8))
            #expect(accepted.status == 202, "trigger with \(extra): \(accepted)")
            guard accepted.status == 202 else { continue }
            let job = try JobDocument.decode(accepted.body)
            #expect(job.triggeredBy == "token:ci", "\(job.summary)")
            let location = try #require(accepted.header("Location"))
            let finished = try await Poll.until(within: .seconds(10), every: .milliseconds(250)) {
                let response = try client.send("GET", location, headers: bearer)
                guard response.status == 200 else { return false }
                return try JobDocument.decode(response.body).isFinished
            }
            #expect(finished, "job \(location) did not finish")
        }

        for (name, token) in [("unknown token", unknown), ("expired token", old.token)] {
            let response = try client.send("GET", "/sluice/api/v1/whoami", headers: [("Authorization", "Bearer \(token)")])
            #expect(response.status == 401, "\(name): \(response)")
            let trigger = try client.send(
                "POST", "/sluice/api/v1/pipelines/quick/jobs",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: Array(#"{"params":{}}"#.utf8))
            #expect(trigger.status == 401, "\(name) trigger: \(trigger)")
        }

        let logs = harness.logs()
        #expect(logs.contains("unknown service token"), "\(logs)")
        #expect(logs.contains("service token old expired"), "\(logs)")
        for token in [ci.token, old.token, unknown] {
            #expect(!logs.contains(token), "a token is in the log")
            #expect(!logs.contains(token.dropFirst(4).prefix(16)), "a piece of a token is in the log")
        }
    }

    // MARK: - 5. Proxy headers and spoofing

    static func proxyConfig(trustedPeer: String) -> (String) -> String {
        { directory in
            Self.config(
                directory: directory,
                identity: """
                    proxy_headers: { user: "X-Forwarded-User", groups: "X-Forwarded-Groups", trusted_peers: ["\(trustedPeer)"] },
                    """)
        }
    }

    @Test("proxy headers from a peer that is not trusted are ignored: 401")
    func untrustedProxyHeaders() async throws {
        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth(), sluiceConfig: Self.proxyConfig(trustedPeer: "127.0.0.2/32"))
        defer { harness.shutdown() }
        let response = try harness.client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "data-eng")])
        #expect(response.status == 401, "lighttpd's peer 127.0.0.1 is not trusted: \(response)")
        let trigger = try harness.client.send(
            "POST", "/sluice/api/v1/pipelines/quick/jobs",
            headers: [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "data-eng"), ("Content-Type", "application/json")],
            body: Array(#"{"params":{}}"#.utf8))
        #expect(trigger.status == 401, "\(trigger)")
    }

    @Test(
        "proxy headers from a trusted peer: alice with groups; comma-joined or duplicated names are refused; another header under two spellings is merged"
    )
    func trustedProxyHeaders() async throws {
        let harness = try await LighttpdHarness.start(Self.withoutBasicAuth(), sluiceConfig: Self.proxyConfig(trustedPeer: "127.0.0.1/32"))
        defer { harness.shutdown() }
        let client = harness.client

        let alice = try WhoAmI.decode(
            try client.send(
                "GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "data-eng, ops")]))
        #expect(alice.user == "alice" && alice.source == "proxy_headers", "\(alice)")
        #expect(alice.groups == ["data-eng", "ops"], "\(alice)")
        #expect(alice.role("operator")?.via == "group data-eng", "\(alice.roles)")

        let noUser = try client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-Groups", "data-eng")])
        #expect(noUser.status == 401, "groups without a user: \(noUser)")

        let commaJoined = try client.send("GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-User", "alice, admin")])
        #expect(commaJoined.status == 401, "\(commaJoined)")

        // lighttpd joins two header lines with ", ", so a client's extra copy shows up as a comma.
        let twoLines = try client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-User", "admin"), ("X-Forwarded-User", "alice")])
        #expect(twoLines.status == 401, "\(twoLines)")

        // lighttpd 1.4.69 maps both spellings to HTTP_X_FORWARDED_USER and sends the param twice.
        let underscore = try client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded_User", "admin"), ("X-Forwarded-User", "alice")])
        #expect(underscore.status == 400 && underscore.text.contains("X-Forwarded-User"), "\(underscore)")
        // A header no decision reads may come under both spellings: merged, and served.
        let harmless = try client.send(
            "GET", "/sluice/api/v1/whoami", headers: [("X-Forwarded-User", "alice"), ("X-Trace_Id", "a"), ("X-Trace-Id", "b")])
        #expect(harmless.status == 200 && (try? WhoAmI.decode(harmless))?.user == "alice", "\(harmless)")

        // Proxy headers ride on every browser request: cross-site POSTs are refused, same-origin ones work.
        let headers = [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "data-eng"), ("Content-Type", "application/json")]
        let crossSite = try client.send(
            "POST", "/sluice/api/v1/pipelines/quick/jobs", headers: headers + [("Sec-Fetch-Site", "cross-site")],
            body: Array(#"{"params":{}}"#.utf8))
        #expect(crossSite.status == 403, "\(crossSite)")
        let sameOrigin = try client.send(
            "POST", "/sluice/api/v1/pipelines/quick/jobs", headers: headers + [("Sec-Fetch-Site", "same-origin")],
            body: Array(#"{"params":{}}"#.utf8))
        #expect(sameOrigin.status == 202, "\(sameOrigin)")
        if sameOrigin.status == 202, let location = sameOrigin.header("Location") {
            let finished = try await Poll.until(within: .seconds(10), every: .milliseconds(250)) {
                let response = try client.send("GET", location, headers: headers)
                guard response.status == 200 else { return false }
                return try JobDocument.decode(response.body).isFinished
            }
            #expect(finished, "job \(location) did not finish")
        }
    }

    // MARK: - 6. sluice explain --token

    @Test("sluice explain --token says which source accepts a token, or why it is refused")
    func explainToken() throws {
        let fixture = try IdentityFixture()
        defer { fixture.remove() }
        try fixture.jwks(["ec-1"]).write(toFile: fixture.directory + "/jwks.json", atomically: true, encoding: .utf8)
        let configPath = fixture.directory + "/sluice.json5"
        try Self.config(directory: fixture.directory, identity: Carrier.header.sourceConfig)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let tokens = try fixture.mint([
            ["key": "ec-1", "payload": Self.claims(fixture)],
            ["key": "ec-1", "payload": Self.claims(fixture, ["exp": fixture.now - 3600])],
        ])
        let binary = try LighttpdHarness.findSluiceBinary()

        let accepted = try ChildProcess.run(binary, ["explain", "--config", configPath, "--token", tokens[0]])
        #expect(accepted.status == 0, "\(accepted)")
        #expect(accepted.stdout.hasPrefix("accepted by source idp"), "\(accepted.stdout)")
        #expect(accepted.stdout.contains("dana"), "\(accepted.stdout)")
        #expect(accepted.stdout.contains("operator (group data-eng)"), "\(accepted.stdout)")

        let expired = try ChildProcess.run(binary, ["explain", "--config", configPath, "--token", tokens[1]])
        #expect(expired.status == 1, "\(expired)")
        #expect(expired.stdout.hasPrefix("refused by source idp: expired"), "\(expired.stdout)")
        #expect(!expired.stdout.contains(tokens[1]), "explain must not echo the token")

        let noSuchSource = try ChildProcess.run(
            binary, ["explain", "--config", configPath, "--token", tokens[0], "--source", "nope"])
        #expect(noSuchSource.status == 1, "\(noSuchSource)")
        #expect(noSuchSource.stdout.contains("no assertion source named nope"), "\(noSuchSource.stdout)")
    }
}

/// The JSON of `GET /api/v1/whoami`, decoded strictly.
struct WhoAmI: Decodable, Sendable, CustomStringConvertible {
    struct Role: Decodable, Sendable {
        let name: String
        let via: String
    }

    struct Permission: Decodable, Sendable {
        let verb: String
        let grant: String
    }

    struct Pipeline: Decodable, Sendable {
        let name: String
        let verbs: [Permission]
    }

    let user: String
    let source: String
    let sourceName: String?
    let groups: [String]
    let roles: [Role]
    let pipelines: [Pipeline]
    let configHash: String

    /// The role with this name, if the caller holds it.
    func role(_ name: String) -> Role? { self.roles.first { $0.name == name } }

    /// The verbs allowed on a pipeline, sorted.
    func verbs(on pipeline: String) -> [String] {
        (self.pipelines.first { $0.name == pipeline }?.verbs.map(\.verb) ?? []).sorted()
    }

    var description: String {
        let roles = self.roles.map { "\($0.name):\($0.via)" }
        return "\(self.user) via \(self.source)(\(self.sourceName ?? "-")) groups \(self.groups) roles \(roles)"
    }

    /// Decodes a 200 response.
    /// - Throws: `HarnessError` for any other status, `DecodingError` for a body off the contract.
    static func decode(_ response: HTTPClient.Response) throws -> WhoAmI {
        guard response.status == 200 else { throw HarnessError("whoami: expected 200, got \(response)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(WhoAmI.self, from: Data(response.body))
    }
}
