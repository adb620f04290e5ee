import Crypto
public import Foundation
import Locking
import Logging

/// Keys of an AWS Application Load Balancer: not a JWKS, but one PEM public key per `kid` at
/// `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`. A key is fetched the first time
/// its `kid` is seen — at most one fetch per cooldown, so unknown-`kid` floods stay cheap — and
/// kept (ALB keys do not change under a `kid`).
public final class ALBKeyProvider: KeyProvider {
    private struct State {
        var entries: [KeyEntry] = []
        var lastAttempt: Date?
    }

    /// The base URL, e.g. `https://public-keys.auth.elb.eu-west-1.amazonaws.com`.
    public let baseURL: URL
    private let cooldown: TimeInterval
    private let timeout: TimeInterval
    private let fetch: RemoteKeyProvider.Fetcher
    private let now: @Sendable () -> Date
    private let state = Locked(State())
    private let logger = Logger(label: "alb-keys")

    /// Creates the provider.
    public init(
        baseURL: URL, cooldown: TimeInterval = 30, timeout: TimeInterval = 5,
        fetch: @escaping RemoteKeyProvider.Fetcher = RemoteKeyProvider.fetchOverHTTPS, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.baseURL = baseURL
        self.cooldown = cooldown
        self.timeout = timeout
        self.fetch = fetch
        self.now = now
    }

    public func current() -> KeySet? { self.state.withLock { KeySet(entries: $0.entries) } }

    public func refresh(missingKid kid: String) -> KeySet? {
        self.state.withLock { state in
            // ALB kids are UUIDs; anything else never becomes part of a URL.
            // A kid already held is never fetched again: a second entry would make it ambiguous.
            if state.entries.contains(where: { $0.kid == kid }) { return KeySet(entries: state.entries) }
            guard !kid.isEmpty, kid.utf8.count <= 64,
                kid.utf8.allSatisfy({ $0 == 0x2D || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
            else { return KeySet(entries: state.entries) }
            let now = self.now()
            if let last = state.lastAttempt, now.timeIntervalSince(last) < self.cooldown { return KeySet(entries: state.entries) }
            state.lastAttempt = now
            do {
                let pem = try self.fetch(self.baseURL.appendingPathComponent(kid), self.timeout, 8192)
                let key = try PublicKey.fromSubjectPublicKeyInfoDER(try Self.der(fromPEM: pem))
                guard key.algorithm == .es256 else { throw AssertionError(.keysUnavailable, "ALB key is not P-256") }
                state.entries.append(KeyEntry(kid: kid, algorithm: .es256, key: key))
            } catch {
                self.logger.warning("ALB key fetch failed", ["kid": kid, "error": "\(error)"])
            }
            return KeySet(entries: state.entries)
        }
    }

    /// The DER bytes of a `-----BEGIN PUBLIC KEY-----` PEM block.
    static func der(fromPEM pem: [UInt8]) throws(AssertionError) -> [UInt8] {
        let text = String(decoding: pem, as: UTF8.self)
        guard let begin = text.range(of: "-----BEGIN PUBLIC KEY-----"), let end = text.range(of: "-----END PUBLIC KEY-----"),
            begin.upperBound <= end.lowerBound
        else { throw AssertionError(.keysUnavailable, "not a PEM public key") }
        let body = text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        guard let der = Data(base64Encoded: String(body)) else { throw AssertionError(.keysUnavailable, "PEM body is not base64") }
        return Array(der)
    }
}
