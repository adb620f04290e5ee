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

    static func request(_ url: String, body: String = #"{"event":"job.succeeded"}"#, secret: String = secret, timeout: Int = 5)
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
        let answers = WebhookSender.shared.send([
            Self.request(receiver.url("/hook")), Self.request(receiver.url("/hook"), secret: "another-secret-of-enough-bytes!!"),
        ])
        #expect(answers == [.status(200), .status(401)])
        let received = receiver.received()
        #expect(received.count == 2)
        #expect(received.filter(\.signatureValid).count == 1)
        #expect(received.first?.contentType == "application/json")
    }

    @Test("a redirect (302, 303, 307, 308) is not followed: it is the answer and nothing else reaches the receiver")
    func redirectRefused() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let codes = [302, 303, 307, 308]
        let answers = WebhookSender.shared.send(codes.map { Self.request(receiver.url("/redirect?code=\($0)")) })
        #expect(answers == codes.map { .status($0) })
        // Give a followed redirect (a GET for 302/303, a POST for 307/308) time to arrive; the
        // receiver logs every method.
        try await Task.sleep(for: .milliseconds(500))
        #expect(receiver.received().map(\.path) == Array(repeating: "/redirect", count: 4))
    }

    @Test("several requests to one receiver go at once and all are answered")
    func parallel() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let answers = WebhookSender.shared.send((0..<16).map { _ in Self.request(receiver.url("/hook"), timeout: 5) })
        #expect(answers == Array(repeating: .status(200), count: 16))
    }

    @Test("a refused connection, a slow receiver, a trickling one and a huge redirect body all end by the deadline")
    func deadlines() async throws {
        let receiver = try await WebhookReceiver(secret: Self.secret)
        defer { receiver.remove() }
        let closed = receiver.url("/hook")
        receiver.stop()
        guard case .failed = WebhookSender.shared.send([Self.request(closed, timeout: 1)]).first else {
            Issue.record("a closed port answered")
            return
        }
        try await receiver.restart()
        let clock = ContinuousClock()
        for path in ["/slow", "/trickle", "/bigredirect"] {
            let start = clock.now
            let answer = WebhookSender.shared.send([Self.request(receiver.url(path), timeout: 1)]).first
            // The deadline is the timeout plus a second; the slow receiver takes 5 s, the
            // trickling one 20 s. A huge redirect may be recognised as one first.
            #expect(clock.now - start < .seconds(3), "\(path) took \(clock.now - start)")
            if case .status(let code)? = answer {
                #expect(path == "/bigredirect" && code == 302, "\(path) answered \(code)")
            }
        }
    }
}
