import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

@Suite struct AppRateLimitTests {
    static let config = AppHarness.configuration(
        server: #"server: { base_path: "/sluice" }, rate_limits: { trigger_per_identity: { per_minute: 1, burst: 2 }, trigger_per_pipeline: { per_minute: 60, burst: 3 } },"#)

    @Test("Triggers beyond the identity's bucket get 429 with Retry-After, are audited, and create no job")
    func perIdentity() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        #expect(h.trigger().status.code == 202)
        #expect(h.trigger().status.code == 202)
        let limited = h.trigger()
        #expect(limited.status.code == 429)
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try h.store.jobs(JobQuery()).count == 2)
        #expect(try h.store.auditRecords(AuditQuery(allowed: false)).contains { $0.reason.contains("rate limited") })
        let whoami = try AppHarness.json(h.send("GET", "/api/v1/whoami"))
        let limits = try #require(whoami["limits"] as? [[String: Any]])
        #expect(limits.first { $0["name"] as? String == "trigger_per_identity" }?["available"] as? Int == 0)
    }

    @Test("The pipeline's bucket is shared by all callers; invalid triggers spend no token")
    func perPipeline() throws {
        let config = Self.config.replacingOccurrences(of: "per_minute: 1, burst: 2", with: "per_minute: 60, burst: 10")
            .replacingOccurrences(of: #"users: ["vera"], grants: [{ pipelines: ["etl-*"], verbs: ["view"]"#, with: #"users: ["vera"], grants: [{ pipelines: ["etl-*"], verbs: ["view", "trigger"]"#)
        let h = try AppHarness(config: config)
        defer { h.remove() }
        #expect(h.trigger(#"{"params": {}}"#).status.code == 400)
        #expect(h.trigger().status.code == 202)
        #expect(h.trigger(user: "vera").status.code == 202)
        #expect(h.trigger().status.code == 202)
        #expect(h.trigger(user: "vera").status.code == 429)
    }

    @Test("sluice check requires per_minute and refuses unknown keys in rate_limits")
    func check() {
        for text in [#"rate_limits: { trigger_per_identity: { burst: 2 } },"#, #"rate_limits: { per_user: { per_minute: 2 } },"#] {
            do {
                _ = try ConfigLoader.load(data: Data(AppHarness.configuration(server: text).utf8), file: "t", directory: "/tmp")
                Issue.record("accepted \(text)")
            } catch {
                #expect(!error.problems.isEmpty)
            }
        }
    }
}
