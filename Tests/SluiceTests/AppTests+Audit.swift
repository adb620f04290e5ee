import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

@Suite struct AppAuditTests {
    static let config = AppHarness.configuration().replacingOccurrences(
        of: "secret: { users: [\"sam\"]",
        with: """
            auditor: { users: ["aud"], grants: [{ pipelines: ["*"], verbs: ["audit"] }] },
                etlaudit: { users: ["eta"], grants: [{ pipelines: ["etl-*"], verbs: ["audit"] }] },
                secret: { users: ["sam"]
            """)

    @Test("Triggers, denials and authentication failures are audited with who, what, why and the config hash")
    func recorded() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let id = try AppHarness.json(h.trigger())["id"] as! Int
        #expect(h.trigger(user: "vera").status.code == 403)
        #expect(h.send("GET", "/api/v1/jobs", user: "bad\u{1}name").status.code == 401)
        let records = try h.store.auditRecords(AuditQuery())
        let trigger = try #require(records.first { $0.event == "trigger" && $0.allowed })
        #expect(trigger.user == "bob" && trigger.jobID == Int64(id) && trigger.reason == "roles.operator.grants[0]")
        #expect(trigger.configHash == h.configuration.hash && trigger.requestID != nil && trigger.clientAddress == "127.0.0.1")
        let denied = try #require(records.first { $0.event == "trigger" && !$0.allowed })
        #expect(denied.user == "vera" && denied.reason.contains("vera"))
        #expect(records.contains { $0.event == "authenticate" && !$0.allowed && $0.user == nil })
    }

    @Test("The audit API needs the audit verb; a pipeline-scoped auditor sees only its pipelines' records")
    func scope() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        _ = h.trigger()
        _ = h.send("GET", "/api/v1/pipelines/secret", user: "bob")  // denied: not visible → audited
        #expect(h.send("GET", "/api/v1/audit", user: "bob").status.code == 403)
        let all = try AppHarness.json(h.send("GET", "/api/v1/audit", user: "aud"))["records"] as! [[String: Any]]
        #expect(all.contains { $0["pipeline"] as? String == "secret" })
        let scoped = try AppHarness.json(h.send("GET", "/api/v1/audit", user: "eta"))["records"] as! [[String: Any]]
        #expect(!scoped.isEmpty && scoped.allSatisfy { ($0["pipeline"] as? String)?.hasPrefix("etl-") == true })
        #expect(h.send("GET", "/api/v1/audit?pipeline=secret", user: "eta").status.code == 403)
        #expect(h.send("GET", "/api/v1/audit?decision=maybe", user: "aud").status.code == 400)
        #expect(h.send("GET", "/audit", user: "aud").status.code == 200)
    }
}
