import Crypto
import Foundation
import TestSupport
import Testing

@testable import Sluice

/// `WebhookSender` and `WebhookSignature` against a real receiver on loopback
/// (`webhook_receiver.py`), which checks signatures with Python's `hmac`, not with Sluice's code.
@Suite("Webhook sending", .serialized)
struct WebhookSenderTests {
    static let secret = "a-webhook-secret-of-32-bytes-0000"

    static func request(_ url: String, body: String = #"{"event":"job.succeeded"}"#, secret: String = secret, timeout: TimeInterval = 5)
        -> WebhookRequest
    {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let bytes = Array(body.utf8)
        return WebhookRequest(
            url: URL(string: url)!,
            headers: [
                ("Content-Type", "application/json"), ("X-Sluice-Delivery", "\(UInt32.random(in: 1...UInt32.max))"),
                ("X-Sluice-Event", "job.succeeded"), (WebhookSignature.timestampHeader, "\(timestamp)"),
                (WebhookSignature.header, WebhookSignature.value(secret: Array(secret.utf8), timestamp: timestamp, body: bytes)),
            ], body: bytes, timeout: timeout)
    }

    @Test("HMAC-SHA256 matches GitHub's documented X-Hub-Signature-256 example")
    func githubExample() {
        // docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let tag = HMACSHA256.authenticate(key: Array("It's a Secret to Everybody".utf8), message: Array("Hello, World!".utf8))
        #expect(Hex.encode(tag) == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(WebhookSignature.signedBytes(timestamp: 1_733_300_000, body: Array("{}".utf8)) == Array("1733300000.{}".utf8))
    }

    @Test("a signed POST is verified by an independent receiver; a wrong secret is refused")
    func signedPost() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let sender = WebhookSender()
        let answers = sender.send([
            Self.request(receiver.url("/hook")), Self.request(receiver.url("/hook"), secret: "another-secret-of-enough-bytes!!"),
        ])
        #expect(answers == [.status(200), .status(401)])
        let received = receiver.received()
        #expect(received.count == 2)
        #expect(received.filter(\.signatureValid).count == 1)
        #expect(received.first?.contentType == "application/json")
    }

    @Test("a redirect is not followed: the 302 is the answer and the target sees nothing")
    func redirectRefused() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let answers = WebhookSender().send([Self.request(receiver.url("/redirect"))])
        #expect(answers == [.status(302)])
        // Give a followed redirect time to arrive, then check it did not.
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.received().map(\.path) == ["/redirect"])
    }

    @Test("a refused connection and a receiver slower than the timeout are failures, not answers")
    func failures() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let closed = receiver.url("/hook")
        let slow = receiver.url("/slow")
        receiver.stop()
        let clock = ContinuousClock()
        let start = clock.now
        let answers = WebhookSender().send([Self.request(closed, timeout: 1)])
        guard case .failed = answers.first else {
            Issue.record("a closed port answered: \(answers)")
            return
        }
        try await receiver.restart()
        let timedOut = WebhookSender().send([Self.request(slow, timeout: 0.5)])
        guard case .failed = timedOut.first else {
            Issue.record("a receiver slower than the timeout answered: \(timedOut)")
            return
        }
        // Both ended near their timeouts (the slow receiver takes 5 s).
        #expect(clock.now - start < .seconds(4))
    }
}
