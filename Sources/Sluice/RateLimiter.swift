import ByteStrings
import Foundation
import Locking

/// Token buckets, keyed by identity or pipeline: each key may spend `burst` tokens at once and
/// regains `perMinute` tokens a minute. Kept in memory (a restart or reload refills them).
final class RateLimiter: Sendable {
    /// One limit.
    struct Limit: Sendable, Hashable {
        /// Tokens regained per minute.
        var perMinute: Double
        /// Bucket size: how many may be spent at once.
        var burst: Double
    }

    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    /// The limit applied to every key.
    let limit: Limit
    /// Buckets by key, compared as bytes: two spellings of a name are two callers, as they are to
    /// the policy and the store.
    private let buckets = Locked<[ByteString: Bucket]>([:])
    private let now: @Sendable () -> Date
    /// Keys tracked at most; beyond it, buckets that have refilled are forgotten first.
    private let maxKeys = 10_000

    init(limit: Limit, now: @escaping @Sendable () -> Date = Date.init) {
        self.limit = limit
        self.now = now
    }

    /// Takes one token for `name` (a key compared as bytes). Returns nil if allowed, else the seconds until one is available.
    func take(_ name: String) -> Int? {
        let key = ByteString(name)
        let now = self.now()
        return self.buckets.withLock { buckets in
            var bucket = self.refilled(buckets[key], now: now)
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / (self.limit.perMinute / 60)).rounded(.up)))
            }
            bucket.tokens -= 1
            if buckets.count >= self.maxKeys && buckets[key] == nil { self.prune(&buckets, now: now) }
            buckets[key] = bucket
            return nil
        }
    }

    /// Tokens `name` could spend right now (for "who am I").
    func available(_ name: String) -> Int {
        let now = self.now()
        return self.buckets.withLock { Int(self.refilled($0[ByteString(name)], now: now).tokens) }
    }

    private func refilled(_ bucket: Bucket?, now: Date) -> Bucket {
        guard var bucket else { return Bucket(tokens: self.limit.burst, updated: now) }
        let elapsed = max(0, now.timeIntervalSince(bucket.updated))
        bucket.tokens = min(self.limit.burst, bucket.tokens + elapsed * self.limit.perMinute / 60)
        bucket.updated = now
        return bucket
    }

    private func prune(_ buckets: inout [ByteString: Bucket], now: Date) {
        buckets = buckets.filter { self.refilled($0.value, now: now).tokens < self.limit.burst }
        if buckets.count >= self.maxKeys { buckets.removeAll() }
    }
}
