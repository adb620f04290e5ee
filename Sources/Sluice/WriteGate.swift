import Dispatch
import JobStore
import Locking

/// Keeps store writes from taking every worker thread while the store is stalled.
///
/// A write can wait (for its turn at the writer, then for SQLite's busy timeout) while another
/// process holds the database lock. Each waiting request holds a FastCGI worker thread; without
/// a bound, every thread could end up waiting and `/healthz` and plain reads would queue behind
/// them (an outside test saw `/healthz` take ~10 s under a 20 s lock).
///
/// The gate refuses a write at once (`StorageUnavailable(.busy)`: 503 with `Retry-After`) only
/// when `limit` writes are already inside **and** none has finished for `stallMilliseconds`:
/// the store is stalled, and more waiters would only take threads from reads. A burst of quick
/// writes is never refused: they finish in milliseconds, so progress is always recent.
final class WriteGate: Sendable {
    private struct State {
        var inside = 0
        /// When a write last finished, or when the gate last went from idle to busy
        /// (milliseconds on the monotonic clock).
        var lastProgress: Int64 = 0
    }

    /// Writes that may wait at once while the store makes no progress.
    let limit: Int
    /// How long without a finished write counts as stalled.
    let stallMilliseconds: Int64
    private let state = Locked(State())
    private let clock: @Sendable () -> Int64

    /// Creates a gate.
    /// - Parameters:
    ///   - limit: writes allowed to wait on a stalled store (at least 1).
    ///   - stallMilliseconds: time without a finished write that counts as stalled.
    ///   - clock: milliseconds on a monotonic clock (injectable for tests).
    init(limit: Int, stallMilliseconds: Int64 = 250, clock: @escaping @Sendable () -> Int64 = WriteGate.monotonicMilliseconds) {
        self.limit = max(1, limit)
        self.stallMilliseconds = stallMilliseconds
        self.clock = clock
    }

    /// Milliseconds since an arbitrary start, never going back.
    static func monotonicMilliseconds() -> Int64 {
        Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000)
    }

    /// Runs `body`, unless the store is stalled and `limit` writes already wait on it: then it
    /// throws `StorageUnavailable(.busy)` without waiting.
    func run<T>(_ body: () throws -> T) throws -> T {
        let now = self.clock()
        let admitted = self.state.withLock { state -> Bool in
            if state.inside == 0 { state.lastProgress = now }
            if state.inside >= self.limit && now - state.lastProgress >= self.stallMilliseconds { return false }
            state.inside += 1
            return true
        }
        guard admitted else {
            throw StorageUnavailable(.busy, detail: "\(self.limit) writes are waiting on a job store that has not finished one for a while")
        }
        defer {
            let end = self.clock()
            self.state.withLock { state in
                state.inside -= 1
                state.lastProgress = end
            }
        }
        return try body()
    }
}
