import Foundation
import HTTP
import Testing

@testable import Sluice

/// `GET /metrics`: who may read it, and what the HTTP and configuration metrics say.
@Suite struct MetricsEndpointTests {
    static func harness(peers: String = "", admin: Bool = false) throws -> AppHarness {
        var config = AppHarness.configuration(server: "server: { base_path: \"/sluice\", metrics_peers: [\(peers)] },")
        if admin {
            config = config.replacingOccurrences(
                of: "roles: {", with: #"roles: { admins: { users: ["ada"], grants: [{ pipelines: ["*"], verbs: ["admin"] }] },"#)
        }
        return try AppHarness(config: config)
    }

    @Test("From an address in server.metrics_peers without identity: 200 in the Prometheus text format")
    func fromPeer() throws {
        let h = try Self.harness(peers: #""127.0.0.0/8""#)
        defer { h.remove() }
        let response = h.send("GET", "/metrics", user: nil)
        #expect(response.status.code == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.contains("# TYPE sluice_http_requests_total counter"), "\(text)")
        #expect(text.contains("sluice_config_info{sha256=\"\(h.configuration.hash)\"} 1"), "\(text)")
    }

    @Test("Elsewhere: 401 without identity, 403 without the admin verb, 200 with it")
    func byVerb() throws {
        let h = try Self.harness(peers: #""10.0.0.0/8""#, admin: true)
        defer { h.remove() }
        #expect(h.send("GET", "/metrics", user: nil).status.code == 401)
        let bob = h.send("GET", "/metrics", user: "bob")
        #expect(bob.status.code == 403)
        #expect(String(decoding: bob.body, as: UTF8.self).contains("metrics_peers"))
        #expect(bob.header("Content-Type") == "application/json", "errors of /metrics are JSON, as the API's")
        #expect(h.send("GET", "/metrics", user: "ada").status.code == 200)
    }

    @Test("HTTP requests count by route pattern, never by path: every job id is one series; unknown paths are 'unmatched'")
    func routeLabels() throws {
        let h = try Self.harness(peers: #""127.0.0.1""#)
        defer { h.remove() }
        for id in [1, 2, 3] { _ = h.send("GET", "/api/v1/jobs/\(id)") }
        _ = h.send("GET", "/no/such/\(UUID().uuidString)")
        _ = h.send("BREW", "/api/v1/jobs")
        let text = String(decoding: h.send("GET", "/metrics", user: nil).body, as: UTF8.self)
        #expect(text.contains(#"sluice_http_requests_total{route="/api/v1/jobs/:id",method="GET",status="404"} 3"#), "\(text)")
        #expect(text.contains(#"sluice_http_requests_total{route="unmatched",method="GET",status="404"} 1"#), "\(text)")
        #expect(text.contains(#"sluice_http_requests_total{route="unmatched",method="OTHER",status="405"} 1"#), "\(text)")
        #expect(text.contains(#"sluice_http_request_duration_seconds_count{route="/api/v1/jobs/:id"} 3"#), "\(text)")
        #expect(!text.contains("/api/v1/jobs/1"), "a path became a label")
    }

    @Test("Invalid credentials count by source and reason; unfinished jobs show by pipeline and state")
    func authenticationAndQueue() throws {
        let h = try Self.harness(peers: #""127.0.0.1""#)
        defer { h.remove() }
        _ = h.send("GET", "/api/v1/pipelines", user: "bad\u{1}user")
        _ = h.trigger()
        let text = String(decoding: h.send("GET", "/metrics", user: nil).body, as: UTF8.self)
        #expect(text.contains(#"sluice_authentication_failures_total{source="remote_user",reason="unusable_value"} 1"#), "\(text)")
        #expect(text.contains(#"sluice_jobs{pipeline="etl-nightly",state="queued"} 1"#), "\(text)")
    }

    @Test("A metrics_peers entry that is not an address is a problem")
    func badPeer() {
        let problems = ConfigLoaderTests.problems(#"{ server: { metrics_peers: ["nope"] }, \#(ConfigLoaderTests.minimal) }"#)
        ConfigLoaderTests.expectProblem(problems, at: "server.metrics_peers[0]", containing: "not an IP address")
    }
}
