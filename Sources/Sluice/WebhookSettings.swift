public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A receiver of job notifications (`webhooks.NAME`): where they are POSTed, the secret they
/// are signed with, and how hard Sluice tries.
public struct WebhookSettings: Sendable, Hashable {
    /// Where the webhook's secret is read from, at every sending pass (a rotated secret is used
    /// without a reload).
    public enum SecretSource: Sendable, Hashable {
        /// A file holding the secret (one line; a final newline is not part of it).
        case file(String)
        /// An environment variable of Sluice's process.
        case environment(String)
    }

    /// The webhook's name (`[A-Za-z0-9._-]`, compared as bytes).
    public var name: String
    /// The URL POSTed to: `http` or `https`, no credentials, no fragment. Redirects are not followed.
    public var url: URL
    /// Where the signing secret is.
    public var secret: SecretSource
    /// Whole seconds an attempt may take from its start to its answer, connecting included
    /// (FoundationNetworking truncates fractions: 0.5 s would fail every attempt at once).
    public var timeout: Int
    /// Attempts before a delivery is given up.
    public var maxAttempts: Int
    /// Seconds before the second attempt; each later wait doubles, up to `maxRetryDelay`.
    public var retryDelay: TimeInterval

    /// The longest wait between two attempts.
    public static let maxRetryDelay: TimeInterval = 3600
    /// The shortest secret accepted, in bytes (RFC 2104 advises at least the hash's output size
    /// for HMAC keys; 16 bytes still holds 128 bits when they are random).
    public static let minSecretBytes = 16

    /// Creates settings.
    public init(
        name: String, url: URL, secret: SecretSource, timeout: Int = 10, maxAttempts: Int = 12, retryDelay: TimeInterval = 10
    ) {
        self.name = name
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.retryDelay = retryDelay
    }

    /// The wait after the `attempts`-th failed attempt (1, 2, ...): `retryDelay` doubled
    /// `attempts - 1` times, spread by up to ±20 % with `jitter` (0...1) so that deliveries
    /// failed together do not retry together, and at most `maxRetryDelay`.
    public func retryDelay(afterAttempts attempts: Int, jitter: Double) -> TimeInterval {
        let doublings = Double(min(max(attempts - 1, 0), 30))
        let spread = self.retryDelay * pow(2, doublings) * (0.8 + 0.4 * min(max(jitter, 0), 1))
        return min(spread, Self.maxRetryDelay)
    }

    /// The secret, read now.
    /// - Throws: `WebhookSecretError` if it cannot be read, or is shorter than `minSecretBytes`.
    public func readSecret() throws(WebhookSecretError) -> [UInt8] {
        let bytes: [UInt8]
        switch self.secret {
        case .environment(let name):
            // getenv compares the name as bytes (a [String: String] lookup would not).
            guard let value = getenv(name), value.pointee != 0 else {
                throw WebhookSecretError("the environment variable \(name) is not set or empty")
            }
            bytes = Array(String(cString: value).utf8)
        case .file(let path):
            var read: [UInt8]
            do { read = try BoundedFile.read(path, limit: 4096) } catch { throw WebhookSecretError("\(error)") }
            // One final line break is how editors and `echo` end a file; it is not part of it.
            if read.last == UInt8(ascii: "\n") { read.removeLast() }
            if read.last == UInt8(ascii: "\r") { read.removeLast() }
            guard !read.contains(UInt8(ascii: "\n")) else { throw WebhookSecretError("\(path) must hold the secret on one line") }
            bytes = read
        }
        guard bytes.count >= Self.minSecretBytes else {
            throw WebhookSecretError("the secret of webhook \(self.name) is shorter than \(Self.minSecretBytes) bytes")
        }
        return bytes
    }
}

/// Why a webhook's secret could not be read (names the file or variable, never the secret).
public struct WebhookSecretError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let reason: String

    init(_ reason: String) { self.reason = reason }

    public var description: String { self.reason }
}
