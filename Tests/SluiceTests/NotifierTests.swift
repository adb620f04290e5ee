import Crypto
import Foundation
import HTTP
import JSON
import JobStore
import Locking
import Testing
import Workflow

@testable import Sluice

/// `webhooks` and `notify`: deliveries made from the store's job events for the subscribed
/// events only, sent signed, retried with backoff and given up, and shown to admins.
@Suite struct NotifierTests {
    static let secret = "0123456789abcdef0123456789abcdef"

    static func config(webhooks: String? = nil) -> String {
        """
        {
          roles: {
            ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "admin"] }] },
            viewer: { users: ["eve"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger"] }] },
          },
          webhooks: \(webhooks ?? """
            {
              ops: { url: "https://hooks.example/sluice", secret_file: "hook.secret", max_attempts: 3, retry_delay_seconds: 1 },
              audit: { url: "http://127.0.0.1:9/audit", secret_env: "SLUICE_TEST_UNSET_SECRET" },
            }
            """),
          pipelines: {
            extract: {
              tasks: { run: { run: ["/bin/true"] } },
              notify: [{ webhook: "ops" }, { webhook: "audit", events: ["started"] }],
            },
            quiet: { tasks: { run: { run: ["/bin/true"] } } },
          },
        }
        """
    }

    /// A harness with the webhook's secret file written.
    static func harness(_ config: String = config()) throws -> AppHarness {
        let h = try AppHarness(config: config)
        _ = try h.directory.write("hook.secret", Self.secret + "\n")
        return h
    }

    /// What a fake sender was asked to send, answering from `answers` in turn (the last one repeats).
    final class FakeReceiver: Sendable {
        let sent = Locked<[WebhookRequest]>([])
        let answers: [WebhookAnswer]
        init(_ answers: [WebhookAnswer]) { self.answers = answers }
        func send(_ requests: [WebhookRequest]) -> [WebhookAnswer] {
            self.sent.withLock { sent in
                requests.map { request in
                    sent.append(request)
                    return self.answers[min(sent.count - 1, self.answers.count - 1)]
                }
            }
        }
        func header(_ name: String, of index: Int) -> String? {
            self.sent.withLock { $0[index].headers.first { $0.0 == name }?.1 }
        }
    }

    static func run(_ h: AppHarness, _ pipeline: String, to state: JobState) throws -> JobRecord {
        let job = try h.createJob(pipeline: pipeline)
        try h.store.record(jobID: job.id, changes: [], jobState: .running)
        try h.store.record(
            jobID: job.id,
            changes: job.tasks.map { TaskChange(task: $0.name, state: state == .succeeded ? .succeeded : .failed, exitCode: 0) },
            jobState: state)
        return job
    }

    @Test("Each subscribed event of each webhook makes one delivery with the job's JSON; other events and pipelines none")
    func subscriptions() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let notifier = Notifier(app: h.app, sender: { _ in [] })
        notifier.enqueue()  // a new reader starts at the latest event
        let job = try Self.run(h, "extract", to: .succeeded)
        _ = try Self.run(h, "quiet", to: .failed)
        notifier.enqueue()
        Notifier(app: h.app, sender: { _ in [] }).enqueue()  // a restart reads from the kept cursor
        let deliveries = try h.store.deliveries(DeliveryQuery()).reversed().map { $0 }
        #expect(deliveries.map { "\($0.webhook) \($0.event)" } == ["audit job.started", "ops job.succeeded"])
        #expect(deliveries.allSatisfy { $0.jobID == job.id && $0.pipeline == "extract" })
        let body = try JSONValue.parse(Data(deliveries[1].body.utf8))
        guard case .object(let members) = body else {
            Issue.record("the body is not an object")
            return
        }
        #expect(members.entry(exactly: "event")?.value == .string("job.succeeded"))
        #expect(members.entry(exactly: "event_id")?.value == .number(Double(deliveries[1].eventID)))
        guard case .object(let jobMembers)? = members.entry(exactly: "job")?.value else {
            Issue.record("no job in the body")
            return
        }
        #expect(jobMembers.entry(exactly: "id")?.value == .number(Double(job.id)))
        #expect(jobMembers.entry(exactly: "state")?.value == .string("succeeded"))
        #expect(jobMembers.entry(exactly: "tasks") == nil, "the list form, without tasks")
    }

    @Test("A delivery is sent signed; a failed attempt is retried after a doubling wait with the same id, then given up")
    func retries() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let clock = Locked(Date().addingTimeInterval(1))
        let fake = FakeReceiver([.status(500), .failed("connection refused"), .status(503)])
        let notifier = Notifier(app: h.app, sender: { fake.send($0) }, now: { clock.withLock { $0 } }, jitter: { 0.5 })
        notifier.enqueue()
        _ = try Self.run(h, "extract", to: .failed)
        notifier.enqueue()
        // The audit webhook's secret is unset: its delivery (job.started) fails without a request.
        #expect(notifier.sendDue() == 2)
        #expect(fake.sent.withLock { $0.count } == 1)
        let request = try #require(fake.sent.withLock { $0.first })
        #expect(request.url.absoluteString == "https://hooks.example/sluice")
        let timestamp = try #require(fake.header("X-Sluice-Timestamp", of: 0).flatMap { Int64($0) })
        let expected = HMACSHA256.authenticate(key: Array(Self.secret.utf8), message: Array("\(timestamp).".utf8) + request.body)
        #expect(fake.header("X-Sluice-Signature-256", of: 0) == "sha256=" + Hex.encode(expected))
        #expect(fake.header("X-Sluice-Event", of: 0) == "job.failed" && fake.header("X-Sluice-Attempt", of: 0) == "1")
        let byHook = { (name: String) in try h.store.deliveries(DeliveryQuery()).first { $0.webhook == name }! }
        #expect(try byHook("audit").lastError?.hasPrefix("cannot sign: the environment variable SLUICE_TEST_UNSET_SECRET") == true)
        var ops = try byHook("ops")
        #expect(ops.state == .pending && ops.attempts == 1 && ops.lastStatus == 500 && ops.lastError == "HTTP 500")
        #expect(abs(ops.nextAttemptAt.timeIntervalSince(clock.withLock { $0 }) - 1) < 0.01, "retry_delay_seconds at first")

        #expect(notifier.sendDue() == 0, "not due yet")
        clock.withLock { $0 = ops.nextAttemptAt }
        #expect(notifier.sendDue() >= 1)
        ops = try byHook("ops")
        #expect(ops.attempts == 2 && ops.lastStatus == nil && ops.lastError == "connection refused")
        #expect(abs(ops.nextAttemptAt.timeIntervalSince(clock.withLock { $0 }) - 2) < 0.01, "then doubled")
        clock.withLock { $0 = ops.nextAttemptAt }
        notifier.sendDue()
        ops = try byHook("ops")
        #expect(ops.state == .failed && ops.attempts == 3 && ops.lastStatus == 503, "given up after max_attempts")
        let ids = fake.sent.withLock { $0.count }
        #expect((0..<ids).map { fake.header("X-Sluice-Delivery", of: $0) } == Array(repeating: "\(ops.id)", count: 3))
        #expect((0..<ids).map { fake.header("X-Sluice-Attempt", of: $0) } == ["1", "2", "3"])
        #expect(Set(fake.sent.withLock { $0.map(\.body) }).count == 1, "every attempt sends the same body")
    }

    @Test("A 2xx delivers; a redirect is a failure; a webhook removed from the configuration gives its deliveries up")
    func outcomes() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let fake = FakeReceiver([.status(302), .status(204)])
        let clock = Locked(Date().addingTimeInterval(1))
        let notifier = Notifier(app: h.app, sender: { fake.send($0) }, now: { clock.withLock { $0 } }, jitter: { 0.5 })
        notifier.enqueue()
        _ = try Self.run(h, "extract", to: .succeeded)
        notifier.enqueue()
        notifier.sendDue()
        let ops = { try h.store.deliveries(DeliveryQuery()).first { $0.webhook == "ops" }! }
        #expect(try ops().lastError == "HTTP 302: redirects are not followed")
        clock.withLock { $0 += 60 }
        notifier.sendDue()
        #expect(try ops().state == .delivered && ops().lastStatus == 204)

        let without = Self.config(webhooks: "{}").replacingOccurrences(
            of: "notify: [{ webhook: \"ops\" }, { webhook: \"audit\", events: [\"started\"] }],", with: "")
        h.app.reload(try ConfigLoader.load(data: Data(without.utf8), file: "t", directory: h.directory.path))
        clock.withLock { $0 += 3600 }
        notifier.sendDue()
        let audit = try #require(try h.store.deliveries(DeliveryQuery()).first { $0.webhook == "audit" })
        #expect(audit.state == .failed && audit.lastError == "webhook audit is no longer configured")
    }

    @Test("Admins list deliveries and ask for another attempt; others get 403; bad filters 400")
    func adminAPI() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let fake = FakeReceiver([.status(500)])
        let notifier = Notifier(app: h.app, sender: { fake.send($0) }, now: { Date().addingTimeInterval(1) }, jitter: { 0.5 })
        notifier.enqueue()
        let job = try Self.run(h, "extract", to: .succeeded)
        notifier.enqueue()
        notifier.sendDue()
        #expect(h.send("GET", "/api/v1/admin/deliveries", user: "eve").status == .forbidden)
        let listed = h.send("GET", "/api/v1/admin/deliveries?state=pending&pipeline=extract&job=\(job.id)")
        #expect(listed.status == .ok)
        let text = String(decoding: listed.body, as: UTF8.self)
        #expect(text.contains("\"webhook\":\"ops\"") && text.contains("\"last_error\":\"HTTP 500\"") && text.contains("\"attempts\":1"))
        #expect(!text.contains("\"body\""), "bodies are not listed")
        #expect(h.send("GET", "/api/v1/admin/deliveries?pipeline=Extract").body == Array("{\"deliveries\":[]}\n".utf8))
        #expect(h.send("GET", "/api/v1/admin/deliveries?pipeline=%E2%84%AAxtract").status == .badRequest, "not NFC")
        for bad in ["state=lost", "job=x", "limit=0", "limit=501", "before=-1", "pipline=extract"] {
            #expect(h.send("GET", "/api/v1/admin/deliveries?\(bad)").status == .badRequest, "\(bad)")
        }
        let ops = try #require(try h.store.deliveries(DeliveryQuery()).first { $0.webhook == "ops" })
        let post = { (id: Int64, user: String) in
            h.send("POST", "/api/v1/admin/deliveries/\(id)/redeliver", user: user, body: "{}", contentType: "application/json")
        }
        #expect(post(ops.id, "eve").status == .forbidden)
        #expect(post(ops.id, "bob").status == .accepted)
        #expect(post(999_999, "bob").status == .notFound)
        #expect(try h.store.auditRecords(AuditQuery()).contains { $0.event == "redeliver" && $0.allowed && $0.user == "bob" })
        try h.store.recordDeliveryAttempt(
            id: ops.id, claimedUntil: nil, DeliveryAttempt(at: Date(), status: 200, error: nil, next: .delivered))
        #expect(post(ops.id, "bob").status == .conflict)
    }

    @Test("The admins' deliveries page lists deliveries and its button asks for another attempt")
    func adminPage() throws {
        let h = try Self.harness()
        defer { h.remove() }
        let fake = FakeReceiver([.status(500)])
        let notifier = Notifier(app: h.app, sender: { fake.send($0) }, now: { Date().addingTimeInterval(1) }, jitter: { 0.5 })
        notifier.enqueue()
        _ = try Self.run(h, "extract", to: .succeeded)
        notifier.enqueue()
        notifier.sendDue()
        #expect(h.send("GET", "/admin/deliveries", user: "eve").status == .forbidden)
        let page = AppHarness.text(h.send("GET", "/admin/deliveries?state=pending", user: "bob"))
        #expect(page.contains("<h1>Webhook deliveries</h1>") && page.contains("job.succeeded") && page.contains("HTTP 500"))
        let ops = try #require(try h.store.deliveries(DeliveryQuery()).first { $0.webhook == "ops" })
        let marker = "action=\"/sluice/admin/deliveries/\(ops.id)/redeliver\"><input type=\"hidden\" name=\"csrf\" value=\""
        let token = try #require(page.range(of: marker).map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        let form = "application/x-www-form-urlencoded"
        #expect(
            h.send("POST", "/admin/deliveries/\(ops.id)/redeliver", user: "bob", body: "csrf=x", contentType: form).status == .forbidden)
        let posted = h.send("POST", "/admin/deliveries/\(ops.id)/redeliver", user: "bob", body: "csrf=\(token)", contentType: form)
        #expect(posted.status.code == 303)
        #expect(try h.store.deliveries(DeliveryQuery()).first { $0.id == ops.id }?.nextAttemptAt ?? .distantFuture <= Date())
        #expect(h.send("GET", "/admin/deliveries?colour=red", user: "bob").status == .badRequest)
    }

    @Test("sluice check refuses unknown webhooks, bad URLs, missing or double secrets, unknown events")
    func configuration() throws {
        func problems(_ webhooks: String, notify: String = "[{ webhook: \"ops\" }]") -> [String] {
            let config = Self.config(webhooks: webhooks).replacingOccurrences(
                of: "notify: [{ webhook: \"ops\" }, { webhook: \"audit\", events: [\"started\"] }]", with: "notify: \(notify)")
            do {
                _ = try ConfigLoader.load(data: Data(config.utf8), file: "t", directory: "/tmp")
                return []
            } catch {
                return error.problems.map { "\($0.path): \($0.message)" }
            }
        }
        // A refused webhook is also missing for notify: only its own problems are counted.
        func webhookProblems(_ webhooks: String) -> Int { problems(webhooks).filter { $0.hasPrefix("webhooks") }.count }
        let good = "{ ops: { url: \"https://h.example/x\", secret_env: \"HOOK_SECRET\" } }"
        #expect(problems(good) == [])
        #expect(problems(good, notify: "[{ webhook: \"OPS\" }]") == ["pipelines.extract.notify[0].webhook: no webhook is named OPS"])
        #expect(problems(good, notify: "[{ webhook: \"ops\" }, { webhook: \"ops\" }]").count == 1)
        #expect(problems(good, notify: "[{ webhook: \"ops\", events: [\"Started\"] }]").first?.contains("unknown event") == true)
        #expect(problems(good, notify: "[{ webhook: \"ops\", events: [] }]").count == 1)
        for url in ["ftp://h/x", "HTTPS://h/x", "https://user:pw@h/x", "https://h/x#f", "https:///x", "https://h/ä", "https://h/a b"] {
            #expect(webhookProblems("{ ops: { url: \"\(url)\", secret_env: \"S\" } }") == 1, "\(url)")
        }
        #expect(webhookProblems("{ ops: { url: \"https://h/x\" } }") == 1)
        #expect(webhookProblems("{ ops: { url: \"https://h/x\", secret_env: \"S\", secret_file: \"f\" } }") == 1)
        #expect(webhookProblems("{ ops: { url: \"https://h/x\", secret_env: \"1S\" } }") == 1)
        #expect(webhookProblems("{ ops: { url: \"https://h/x\", secret_env: \"S\", retry_delay_seconds: 0 } }") == 1)
        #expect(webhookProblems("{ ops: { url: \"https://h/x\", secret_env: \"S\", max_attempts: 0 } }") == 1)
        #expect(webhookProblems("{ ops: { url: \"https://h/x\", secret_env: \"S\", colour: 1 } }") == 1)
    }

    @Test("Backoff doubles from retry_delay_seconds, stops at an hour, and spreads by ±20 %")
    func backoff() {
        let w = WebhookSettings(name: "w", url: URL(string: "https://h/x")!, secret: .environment("S"), retryDelay: 10)
        #expect(w.retryDelay(afterAttempts: 1, jitter: 0.5) == 10)
        #expect(w.retryDelay(afterAttempts: 4, jitter: 0.5) == 80)
        #expect(w.retryDelay(afterAttempts: 40, jitter: 0.5) == 3600)
        #expect(abs(w.retryDelay(afterAttempts: 1, jitter: 0) - 8) < 1e-9 && abs(w.retryDelay(afterAttempts: 1, jitter: 1) - 12) < 1e-9)
    }
}
