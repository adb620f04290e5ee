import Foundation
import JobStore

/// Keeps store writes from taking every worker thread while the store is stalled.
///
/// A write can wait (for its turn at the writer, then for SQLite's busy timeout) while another
/// process holds the database lock. Each waiting request holds a FastCGI worker thread; without
/// a bound, every thread could end up waiting and `/healthz` and plain reads would queue behind
/// them (an outside test saw `/healthz` take ~10 s under a 20 s lock).
///
/// At most `limit` writes run at once; a write beyond that waits at most `slotWait` for one of
/// them to finish, then is refused as busy (`StorageUnavailable(.busy)`: 503 with
/// `Retry-After`). Quick writes free their slot within milliseconds, so a burst only queues
/// briefly; a stalled store keeps at most `limit` threads, and the others are back within
/// `slotWait` to serve reads and `/healthz`.
final class WriteGate: @unchecked Sendable {
    // `inside` is only read or written with `condition` locked; `limit` and `slotWait` are
    // immutable. An NSCondition (a pthread mutex and condition variable, which ThreadSanitizer
    // understands) because a waiter sleeps until a slot frees.
    private let condition = NSCondition()
    private var inside = 0
    /// Writes allowed at once.
    let limit: Int
    /// How long a write beyond the limit waits for a slot.
    let slotWait: TimeInterval

    /// Creates a gate for `limit` concurrent writes (at least 1).
    init(limit: Int, slotWait: TimeInterval = 0.05) {
        self.limit = max(1, limit)
        self.slotWait = slotWait
    }

    /// Runs `body` once fewer than `limit` writes are running, waiting at most `slotWait` for
    /// that; else throws `StorageUnavailable(.busy)`.
    func run<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(self.slotWait)
        self.condition.lock()
        while self.inside >= self.limit {
            if !self.condition.wait(until: deadline) && self.inside >= self.limit {
                self.condition.unlock()
                throw StorageUnavailable(.busy, detail: "\(self.limit) writes are already waiting for the job store")
            }
        }
        self.inside += 1
        self.condition.unlock()
        defer {
            self.condition.lock()
            self.inside -= 1
            self.condition.signal()
            self.condition.unlock()
        }
        return try body()
    }
}
