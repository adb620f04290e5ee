import HTTP
import Identity
import Testing

@testable import Sluice

/// A header or CGI variable that arrives more than once (nginx and HAProxy pass a header on two
/// lines as two params; CGI maps `X-Foo` and `X_Foo` to one name): merged, unless a decision
/// reads it.
@Suite struct RepeatedParamsTests {
    static let proxy = IdentitySettings(
        proxyHeaders: ProxyHeaderAuthenticator(userHeader: "X-Auth-User", groupsHeader: "X-Auth-Groups", trustedPeers: []))

    @Test(
        "Must come once: CGI variables, credentials, same-origin and proxy headers, Idempotency-Key, and the configured identity headers",
        arguments: [
            "REMOTE_USER", "CONTENT_TYPE", "REQUEST_URI", "HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_ORIGIN", "HTTP_REFERER", "HTTP_HOST",
            "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_USER", "HTTP_FORWARDED",
            "HTTP_IDEMPOTENCY_KEY", "HTTP_X_AUTH_USER", "HTTP_X_AUTH_GROUPS",
        ])
    func single(name: String) {
        #expect(RepeatedParams.mustBeSingle(name, identity: Self.proxy))
    }

    @Test(
        "Merged: ordinary headers",
        arguments: ["HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE", "HTTP_CACHE_CONTROL", "HTTP_X_CUSTOM", "HTTP_USER_AGENT"])
    func merged(name: String) {
        #expect(!RepeatedParams.mustBeSingle(name, identity: Self.proxy))
    }

    @Test("An identity header counts by bytes: a Kelvin-sign spelling of the configured name is another name")
    func identityHeaderBytes() {
        let kelvin = IdentitySettings(
            proxyHeaders: ProxyHeaderAuthenticator(userHeader: "X-\u{212A}ey", groupsHeader: nil, trustedPeers: []))
        // CGI maps the non-ASCII bytes to `_`: never the ASCII name.
        #expect(!RepeatedParams.mustBeSingle("HTTP_X_KEY", identity: kelvin))
        #expect(RepeatedParams.mustBeSingle(HTTPRequest.paramName(ofHeader: "X-\u{212A}ey"), identity: kelvin))
        #expect(IdentitySettings(assertions: []).headerNames.isEmpty)
    }

    @Test("Through the app: two Accept values are merged and the request is served; a repeated REMOTE_USER or Origin is a 400 naming it")
    func app() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let merged = h.send("GET", "/api/v1/pipelines", repeated: ["HTTP_ACCEPT": ["application/json", "text/plain"]])
        #expect(merged.status.code == 200, "\(String(decoding: merged.body, as: UTF8.self))")
        let user = h.send("GET", "/api/v1/pipelines", user: nil, repeated: ["REMOTE_USER": ["bob", "alice"]])
        #expect(user.status.code == 400)
        #expect((try AppHarness.jsonError(user)["message"] as? String)?.contains("REMOTE_USER") == true)
        let origin = h.send(
            "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params":{"date":"2024-05-01"}}"#, contentType: "application/json",
            repeated: ["HTTP_ORIGIN": ["http://127.0.0.1", "https://evil.example"]])
        #expect(origin.status.code == 400)
        #expect((try AppHarness.jsonError(origin)["message"] as? String)?.contains("Origin") == true)
        #expect(try h.store.jobs(.init()).isEmpty, "a refused trigger created a job")
    }
}
