import Crypto
import Locking

/// The SHA-256 of the service token each worker thread hashed last, so that a client sending the
/// same token on every request (what API clients do) costs a constant-time comparison instead
/// of a digest: a profile of `GET /api/v1/jobs/{id}` found 3 % of its CPU in OpenSSL 3's digest
/// set-up for a 50-byte token.
///
/// The token is compared with `ConstantTime.equals` (its length is not secret: every token
/// Sluice issues has the same), and the digest, not the kept token, is what the authenticator
/// then compares with the configured ones, exactly as before. A thread keeps one token, in
/// memory only (the request that brought it is in memory too). Striped by `ThreadNumber`, so the
/// worker threads never share a lock.
final class RecentTokenDigests: Sendable {
    private struct Kept {
        var token: [UInt8]
        var digest: [UInt8]
    }

    private static let stripeCount = 16
    private let stripes: [Locked<Kept?>] = (0..<RecentTokenDigests.stripeCount).map { _ in Locked(nil) }

    /// The SHA-256 of `token`.
    func digest(of token: [UInt8]) -> [UInt8] {
        let stripe = self.stripes[ThreadNumber.current % Self.stripeCount]
        if let kept = stripe.withLock({ $0 }), ConstantTime.equals(kept.token, token) { return kept.digest }
        let digest = SHA256.hash(token)
        stripe.withLock { $0 = Kept(token: token, digest: digest) }
        return digest
    }
}
