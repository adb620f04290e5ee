import Crypto

/// How a notification is signed: HMAC-SHA256 under the webhook's secret over the timestamp, a
/// dot and the body (`"1733300000.{...}"`), sent as `X-Sluice-Signature-256: sha256=<hex>` beside
/// `X-Sluice-Timestamp`. Signing the timestamp with the body lets a receiver refuse an old
/// delivery replayed later (GitHub's `X-Hub-Signature-256` covers the body only; Stripe's
/// scheme adds the timestamp the same way).
enum WebhookSignature {
    /// The header carrying the signature.
    static let header = "X-Sluice-Signature-256"
    /// The header carrying the timestamp (Unix seconds).
    static let timestampHeader = "X-Sluice-Timestamp"

    /// The bytes that are signed: the timestamp in decimal, `.`, the body.
    static func signedBytes(timestamp: Int64, body: [UInt8]) -> [UInt8] {
        Array("\(timestamp).".utf8) + body
    }

    /// The header's value: `sha256=` and the tag in lower-case hex.
    static func value(secret: [UInt8], timestamp: Int64, body: [UInt8]) -> String {
        "sha256=" + Hex.encode(HMACSHA256.authenticate(key: secret, message: self.signedBytes(timestamp: timestamp, body: body)))
    }
}
