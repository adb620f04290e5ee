import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Webhook notifications from the real `sluice serve` behind lighttpd to a real receiver on
/// loopback (`webhook_receiver.py`, which checks each signature with Python's `hmac`): retried
/// after failures, kept while the receiver is down and while Sluice is killed, and each job
/// event delivered under one delivery id.
@Suite("Notifications from a real sluice serve", .serialized, .timeLimit(.minutes(3)))
struct NotificationTests {
    static let secret = "integration-secret-0123456789abcdef"

    /// The deliveries accepted (200) by the receiver, by `job id + event`, with their delivery ids.
    static func accepted(_ receiver: WebhookReceiver) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for r in receiver.received() where r.status == 200 {
            let job = (r.body?["job"] as? [String: Any])?["id"] as? Int ?? -1
            result["\(job) \(r.event ?? "")", default: []].insert(r.delivery ?? "")
        }
        return result
    }

    static func trigger(_ harness: LighttpdHarness, _ pipeline: String) throws -> Int {
        let response = try harness.client.postJSON("/sluice/api/v1/pipelines/\(pipeline)/jobs", #"{"params":{}}"#, as: "alice")
        guard response.status == 201 || response.status == 202, let id = try response.jsonObject()["id"] as? Int else {
            throw HarnessError("trigger of \(pipeline) answered \(response.status)")
        }
        return id
    }

    /// Waits until the job has ended; returns its state.
    static func ended(_ harness: LighttpdHarness, _ id: Int) async throws -> String {
        var state = ""
        _ = await Poll.until(within: .seconds(30), every: .milliseconds(100)) {
            state = ((try? harness.client.send("GET", "/sluice/api/v1/jobs/\(id)", as: "alice").jsonObject())?["state"] as? String) ?? ""
            return ["succeeded", "failed", "cancelled"].contains(state)
        }
        return state
    }

    @Test("Job events reach the receiver signed, after its failures, after it was down, and after Sluice was killed; one delivery id each")
    func endToEnd() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let secrets = try TemporaryDirectory(prefix: "sluice-hook-secret")
        defer { secrets.remove() }
        let secretFile = try secrets.write("hook.secret", Self.secret + "\n")
        // fail=1: the first request of every delivery is answered 500, so every one is retried.
        let url = receiver.url("/hook?fail=1")
        let harness = try await LighttpdHarness.start { directory in
            """
            {
              server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 2 },
              roles: { admin: { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "admin"] }] } },
              webhooks: { ops: { url: "\(url)", secret_file: "\(secretFile)", retry_delay_seconds: 0.2, max_attempts: 50, timeout_seconds: 2 } },
              pipelines: {
                good: { tasks: { run: { run: ["/bin/true"] } }, notify: [{ webhook: "ops", events: ["started", "succeeded", "failed"] }] },
                bad: { tasks: { run: { run: ["/bin/false"] } }, notify: [{ webhook: "ops" }] },
                quiet: { tasks: { run: { run: ["/bin/true"] } } },
              },
            }
            """
        }
        defer { harness.shutdown() }
        var expected: Set<String> = []

        // 1. The receiver up (failing each delivery's first attempt).
        let good = try Self.trigger(harness, "good")
        let bad = try Self.trigger(harness, "bad")
        let quiet = try Self.trigger(harness, "quiet")
        #expect(try await Self.ended(harness, good) == "succeeded")
        #expect(try await Self.ended(harness, bad) == "failed")
        #expect(try await Self.ended(harness, quiet) == "succeeded")
        expected.formUnion(["\(good) job.started", "\(good) job.succeeded", "\(bad) job.failed"])
        _ = await Poll.until(within: .seconds(20), every: .milliseconds(100)) { Set(Self.accepted(receiver).keys) == expected }
        #expect(Set(Self.accepted(receiver).keys) == expected, "\(receiver.received().map { "\($0.status) \($0.event ?? "")" })")

        // 2. The receiver down while jobs end; then Sluice killed with -9 before it comes back.
        receiver.stop()
        let later = [try Self.trigger(harness, "good"), try Self.trigger(harness, "bad")]
        for id in later { _ = try await Self.ended(harness, id) }
        expected.formUnion(["\(later[0]) job.started", "\(later[0]) job.succeeded", "\(later[1]) job.failed"])
        // The three deliveries wait, each tried and failed at least once.
        var waiting: [[String: Any]] = []
        _ = await Poll.until(within: .seconds(15), every: .milliseconds(200)) {
            let pending = try? harness.client.send("GET", "/sluice/api/v1/admin/deliveries?state=pending", as: "alice")
            waiting = ((try? pending?.jsonObject())?["deliveries"] as? [[String: Any]]) ?? []
            return waiting.count == 3 && waiting.allSatisfy { ($0["attempts"] as? Int ?? 0) >= 1 }
        }
        #expect(waiting.count == 3, "deliveries wait while the receiver is down: \(waiting)")
        #expect(waiting.allSatisfy { ($0["last_error"] as? String)?.isEmpty == false && $0["last_status"] == nil })
        for pid in harness.sluiceProcessIDs() { kill(pid, SIGKILL) }
        try await receiver.restart()
        // lighttpd starts a new sluice at the next request; its notifier resumes from the store.
        _ = await Poll.until(within: .seconds(20), every: .milliseconds(200)) {
            (try? harness.client.send("GET", "/sluice/healthz").status) == 200
        }
        _ = await Poll.until(within: .seconds(30), every: .milliseconds(200)) { Set(Self.accepted(receiver).keys) == expected }

        let accepted = Self.accepted(receiver)
        #expect(Set(accepted.keys) == expected, "\(harness.logs().suffix(2000))")
        #expect(accepted.values.allSatisfy { $0.count == 1 }, "each job event was accepted under one delivery id: \(accepted)")
        let all = receiver.received()
        #expect(all.allSatisfy { $0.signatureValid }, "every request carried a valid signature")
        #expect(all.allSatisfy { $0.path == "/hook" })
        #expect(all.contains { $0.status == 500 }, "first attempts failed on purpose")
        #expect(!all.contains { (($0.body?["job"] as? [String: Any])?["id"] as? Int) == quiet }, "quiet has no notify")
        let deliveries = try harness.client.send("GET", "/sluice/api/v1/admin/deliveries?state=delivered", as: "alice")
        let delivered = (try deliveries.jsonObject()["deliveries"] as? [[String: Any]]) ?? []
        #expect(delivered.count == expected.count)
        #expect(try harness.client.send("GET", "/sluice/api/v1/admin/deliveries?state=pending", as: "alice").body.count < 30)
    }
}
