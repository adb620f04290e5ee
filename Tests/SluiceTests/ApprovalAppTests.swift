import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// Four-eyes approvals through the app: triggered jobs wait, approvers decide by API or by the
/// job page's form, the person who triggered cannot approve, grants limited to parameter values
/// limit approvals too, service tokens approve only through their own roles, and everything is
/// audited.
@Suite struct ApprovalAppTests {
    /// A service token whose configured role may approve, and one that could only through the default role.
    static let approverToken = "slc_approve-test-token-0123456789abcdefghijklmnopqrstu"
    static let plainToken = "slc_plain-test-token-0123456789abcdefghijklmnopqrstuvw"

    static let config = """
        {
          identity: {
            remote_user: {}, default_role: "everyone",
            service_tokens: [
              { name: "deploy-bot", sha256: "3b8b5a42b04217ed609235ddcba1433271f1beea27a9b89c28c63ee08e720c38", roles: ["approvers"] },
              { name: "ci-bot", sha256: "c6f97de9f2fe0a583f39341cdcb3e00ea0c610c648df4b70657c1c05d9634df5", roles: ["ops"] },
            ],
          },
          roles: {
            ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "admin"] }] },
            approvers: { users: ["kim", "lee", "bob"], grants: [{ pipelines: ["deploy"], verbs: ["view", "approve"] }] },
            staging: { users: ["sam"], grants: [{ pipelines: ["deploy"], verbs: ["view", "approve"], params: { env: ["staging"] } }] },
            everyone: { grants: [{ pipelines: ["open"], verbs: ["view", "approve"] }] },
          },
          webhooks: { ops: { url: "https://hooks.example/sluice", secret_env: "SLUICE_TEST_UNSET_SECRET" } },
          pipelines: {
            deploy: {
              params: { env: { required: true } },
              approval: { required: 2, expire_after_minutes: 60 },
              notify: [{ webhook: "ops" }],
              tasks: { run: { run: ["/bin/true", "{env}"] } },
            },
            open: { approval: {}, tasks: { run: { run: ["/bin/true"] } } },
          },
        }
        """

    static func trigger(_ h: AppHarness, env: String = "prod", pipeline: String = "deploy", user: String = "bob") throws -> [String: Any] {
        let body = pipeline == "deploy" ? #"{"params": {"env": "\#(env)"}}"# : #"{"params": {}}"#
        let response = h.send("POST", "/api/v1/pipelines/\(pipeline)/jobs", user: user, body: body, contentType: "application/json")
        #expect(response.status.code == 202, "\(AppHarness.text(response))")
        return try AppHarness.json(response)
    }

    static func decide(
        _ h: AppHarness, _ id: Any, _ verb: String = "approve", user: String?, body: String = "{}", params: [String: String] = [:]
    )
        -> HTTPResponse
    {
        h.send("POST", "/api/v1/jobs/\(id)/\(verb)", user: user, body: body, contentType: "application/json", params: params)
    }

    @Test("A triggered job waits; two different approvers queue it; the one who triggered may not approve; one decision each")
    func twoApprovers() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let job = try Self.trigger(h)
        let id = try #require(job["id"] as? Int)
        #expect(job["state"] as? String == "awaiting_approval")
        let approval = try #require(job["approval"] as? [String: Any])
        #expect(approval["required"] as? Int == 2 && approval["expires_at"] is String)

        let own = Self.decide(h, id, user: "bob")
        #expect(own.status == .forbidden && AppHarness.text(own).contains("someone else must approve"))
        let first = Self.decide(h, id, user: "kim", body: #"{"comment": "  change 4711 reviewed  "}"#)
        #expect(first.status == .ok)
        let afterFirst = try AppHarness.json(first)
        #expect(afterFirst["state"] as? String == "awaiting_approval")
        let decisions = try #require((afterFirst["approval"] as? [String: Any])?["decisions"] as? [[String: Any]])
        #expect(decisions.count == 1 && decisions[0]["approver"] as? String == "kim")
        #expect(decisions[0]["comment"] as? String == "change 4711 reviewed" && decisions[0]["decision"] as? String == "approve")
        #expect(Self.decide(h, id, user: "kim").status == .conflict, "one decision per person")
        let second = Self.decide(h, id, user: "lee")
        #expect(second.status == .ok)
        #expect(try AppHarness.json(second)["state"] as? String == "queued")
        #expect(Self.decide(h, id, user: "kim", body: "{}").status == .conflict)
        let audit = try h.store.auditRecords(AuditQuery())
        #expect(audit.filter { $0.event == "approve" && $0.allowed }.map { $0.user ?? "" }.sorted() == ["kim", "lee"])
        #expect(audit.contains { $0.event == "approve" && !$0.allowed && $0.user == "bob" && $0.reason == "triggered the job itself" })
        #expect(audit.contains { $0.event == "approve" && $0.reason.hasSuffix("comment: change 4711 reviewed") })
    }

    @Test("A rejection ends the job rejected; the one who triggered may reject; nothing runs")
    func reject() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let id = try #require(try Self.trigger(h)["id"] as? Int)
        let rejected = Self.decide(h, id, "reject", user: "bob", body: #"{"comment": "wrong build"}"#)
        #expect(rejected.status == .ok)
        let job = try AppHarness.json(rejected)
        #expect(job["state"] as? String == "rejected")
        #expect((job["tasks"] as? [[String: Any]])?.allSatisfy { $0["state"] as? String == "cancelled" } == true)
        #expect(Self.decide(h, id, user: "kim").status == .conflict)
        #expect(try h.store.unfinishedJobs().isEmpty)
    }

    @Test("Approval follows grants: parameter limits, view, and service tokens only through their own roles")
    func whoMayApprove() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let prod = try #require(try Self.trigger(h, env: "prod")["id"] as? Int)
        let staging = try #require(try Self.trigger(h, env: "staging")["id"] as? Int)
        #expect(Self.decide(h, prod, user: "sam").status == .notFound, "sam sees and approves staging jobs only")
        #expect(Self.decide(h, staging, user: "sam").status == .ok)
        #expect(Self.decide(h, prod, user: "eve").status == .notFound, "eve cannot see deploy")
        let bearer = { (token: String) in ["HTTP_AUTHORIZATION": "Bearer \(token)"] }
        #expect(Self.decide(h, prod, user: nil, params: bearer(Self.approverToken)).status == .ok, "deploy-bot holds approvers")
        // open's approve comes from the default role: people have it, service tokens do not.
        let open = try #require(try Self.trigger(h, pipeline: "open")["id"] as? Int)
        #expect(Self.decide(h, open, user: nil, params: bearer(Self.plainToken)).status == .forbidden)
        #expect(Self.decide(h, open, user: "kim").status == .ok)
        let whoami = AppHarness.text(h.send("GET", "/api/v1/whoami", user: nil, params: bearer(Self.plainToken)))
        #expect(!whoami.contains("\"approve\""), "whoami agrees: \(whoami)")
        #expect(AppHarness.text(h.send("GET", "/api/v1/whoami", user: "kim")).contains("\"approve\""))
    }

    @Test("The job page shows the decisions and a CSRF-protected form to those who may decide")
    func form() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let id = try #require(try Self.trigger(h)["id"] as? Int)
        #expect(Self.decide(h, id, user: "lee", body: #"{"comment": "<b>ok</b>"}"#).status == .ok)
        let page = AppHarness.text(h.send("GET", "/jobs/\(id)", user: "kim"))
        #expect(page.contains("Waiting for 2 approvals from different people: 1 so far."))
        #expect(page.contains("<strong>lee</strong> approved at") && page.contains("<q>&lt;b&gt;ok&lt;/b&gt;</q>"))
        #expect(page.contains("formaction=\"/sluice/jobs/\(id)/reject\""))
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(id)", user: "lee")).contains("name=\"comment\""), "lee has decided")
        #expect(AppHarness.text(h.send("GET", "/jobs/\(id)", user: "bob")).contains("someone else must approve it"))
        let token = try #require(page.range(of: #"name="csrf" value=""#).map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        let forged = h.send(
            "POST", "/jobs/\(id)/approve", user: "kim", body: "csrf=x&comment=", contentType: "application/x-www-form-urlencoded")
        #expect(forged.status == .forbidden)
        let posted = h.send(
            "POST", "/jobs/\(id)/approve", user: "kim", body: "csrf=\(token)&comment=fine", contentType: "application/x-www-form-urlencoded"
        )
        #expect(posted.status.code == 303)
        #expect(try h.store.job(id: Int64(id))?.state == .queued)
    }

    @Test("The dashboard lists the jobs awaiting the viewer's approval, not their own nor ones they may not approve")
    func dashboard() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let prod = try #require(try Self.trigger(h, env: "prod")["id"] as? Int)
        let staging = try #require(try Self.trigger(h, env: "staging")["id"] as? Int)
        let kim = AppHarness.text(h.send("GET", "/", user: "kim"))
        #expect(kim.contains("Awaiting your approval") && kim.contains("/jobs/\(prod)\"") && kim.contains("/jobs/\(staging)\""))
        let sam = AppHarness.text(h.send("GET", "/", user: "sam"))
        #expect(sam.contains("/jobs/\(staging)\"") && !sam.contains("/jobs/\(prod)\""))
        #expect(!AppHarness.text(h.send("GET", "/", user: "bob")).contains("Awaiting your approval"), "bob triggered both")
        #expect(Self.decide(h, staging, "reject", user: "kim").status == .ok)
        #expect(!AppHarness.text(h.send("GET", "/", user: "sam")).contains("Awaiting your approval"))
        let metrics = AppHarness.text(h.send("GET", "/metrics", user: "bob"))
        #expect(metrics.contains("sluice_jobs{pipeline=\"deploy\",state=\"awaiting_approval\"} 1"), "\(metrics.prefix(600))")
    }

    @Test("Webhooks hear that a job awaits approval and that it was rejected or expired")
    func notifications() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let notifier = Notifier(app: h.app, sender: { _ in [] })
        notifier.enqueue()
        let rejected = try #require(try Self.trigger(h)["id"] as? Int)
        let expired = try #require(try Self.trigger(h, env: "staging")["id"] as? Int)
        #expect(Self.decide(h, rejected, "reject", user: "kim").status == .ok)
        _ = ApprovalExpiry(app: h.app).pass(now: Date() + 7200)
        notifier.enqueue()
        let made = try h.store.deliveries(DeliveryQuery()).reversed().map { "\($0.jobID) \($0.event)" }
        #expect(
            made == [
                "\(rejected) job.awaiting_approval", "\(expired) job.awaiting_approval", "\(rejected) job.rejected",
                "\(expired) job.expired",
            ])
    }

    @Test("Expiry and cancel end a waiting job; both are audited")
    func expireAndCancel() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let waiting = try #require(try Self.trigger(h)["id"] as? Int)
        let cancelled = try #require(try Self.trigger(h, env: "staging")["id"] as? Int)
        let cancel = h.send("POST", "/api/v1/jobs/\(cancelled)/cancel", user: "bob", body: "{}", contentType: "application/json")
        #expect(try AppHarness.json(cancel)["state"] as? String == "cancelled")
        #expect(ApprovalExpiry(app: h.app).pass(now: Date() + 59 * 60).isEmpty)
        let expired = ApprovalExpiry(app: h.app).pass(now: Date() + 61 * 60)
        #expect(expired.map(\.id) == [Int64(waiting)] && expired.first?.state == .expired)
        let audit = try h.store.auditRecords(AuditQuery())
        #expect(audit.contains { $0.event == "expire" && $0.jobID == Int64(waiting) && $0.user == nil })
        #expect(audit.contains { $0.event == "cancel" && $0.jobID == Int64(cancelled) })
        // bob may retry elsewhere, but a job cancelled while it waited would run unapproved: 409, no button.
        let retry = h.send("POST", "/api/v1/jobs/\(cancelled)/retry", user: "bob", body: "{}", contentType: "application/json")
        #expect(retry.status == .notFound || retry.status == .forbidden || retry.status == .conflict)
        #expect(try h.store.job(id: Int64(cancelled))?.state == .cancelled)
    }

    @Test("Malformed, oversized and hostile decision bodies are refused with a clear error")
    func badBodies() throws {
        let h = try AppHarness(config: Self.config)
        defer { h.remove() }
        let id = try #require(try Self.trigger(h)["id"] as? Int)
        for (body, status) in [
            ("not json", 400), ("[]", 400), (#"{"comment": 5}"#, 400), (#"{"note": "x"}"#, 400),
            (#"{"comment": "\#(String(repeating: "x", count: 1001))"}"#, 400), (#"{"comment": "a\u0007b"}"#, 400),
            (#"{"comment": "\#(String(repeating: "x", count: 9000))"}"#, 413),
        ] {
            #expect(Self.decide(h, id, user: "kim", body: body).status.code == status, "\(body.prefix(40))")
        }
        let form = h.send(
            "POST", "/api/v1/jobs/\(id)/approve", user: "kim", body: "comment=x", contentType: "application/x-www-form-urlencoded")
        #expect(form.status.code == 415)
        #expect(Self.decide(h, 999_999, user: "kim").status == .notFound)
        #expect(try h.store.job(id: Int64(id))?.approvals.isEmpty == true, "nothing was recorded")
    }

    @Test("sluice explain --pipeline says who may approve, with parameter limits, the default role and service tokens")
    func whoMayApproveExplained() throws {
        let configuration = try ConfigLoader.load(data: Data(Self.config.utf8), file: "t", directory: "/tmp")
        let deploy = try #require(configuration.pipelines["deploy"])
        let text = PipelineHolders.make(deploy, configuration, verb: .approve).text
        #expect(text.contains("approval: 2 approvals by different people within 60 minutes"))
        #expect(text.contains("role approvers (roles.approvers.grants[0]): users bob, kim, lee; service tokens deploy-bot"))
        #expect(text.contains("role staging (roles.staging.grants[0]), only with env "))
        #expect(!text.contains("role everyone"), "the default role grants approve on open only")
        let open = try #require(configuration.pipelines["open"])
        #expect(
            PipelineHolders.make(open, configuration, verb: .approve).text.contains(
                "role everyone (roles.everyone.grants[0]): everyone identified (default role)"))
        #expect(
            PipelineHolders.make(deploy, configuration, verb: .cancel).text.contains(
                "role ops (roles.ops.grants[0]): users bob; service tokens ci-bot"))
    }

    @Test("sluice check refuses approval nobody can give and out-of-range rules")
    func configuration() throws {
        func problems(_ approval: String, grants: String = "verbs: [\"view\", \"approve\"]") -> [String] {
            let text = """
                { roles: { r: { users: ["a"], grants: [{ pipelines: ["p"], \(grants) }] } },
                  pipelines: { p: { approval: \(approval), tasks: { t: { run: ["/bin/true"] } } } } }
                """
            do {
                _ = try ConfigLoader.load(data: Data(text.utf8), file: "t", directory: "/tmp")
                return []
            } catch { return error.problems.map { "\($0.path): \($0.message)" } }
        }
        #expect(problems("{ required: 2, expire_after_minutes: 30 }") == [])
        #expect(problems("{}", grants: "verbs: [\"view\"]").first?.contains("no role grants approve on p") == true)
        #expect(problems("{ required: 0 }").count == 1)
        #expect(problems("{ required: 11 }").count == 1)
        #expect(problems("{ expire_after_minutes: 0 }").count == 1)
        #expect(problems("{ approvers: 2 }").count == 1)
    }
}
