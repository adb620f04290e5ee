import JobStore
import Synchronization

/// Bounds how many requests may be inside a job-store write at once.
///
/// A write can wait (for the writer lock, then for SQLite's busy timeout) while another process
/// holds the database lock. Each waiting request holds a FastCGI worker thread; without a bound,
/// every thread could end up waiting and `/healthz` and plain reads would queue behind them (an
/// outside test saw `/healthz` take ~10 s under a 20 s lock). With the gate, at most `limit`
/// threads wait on writes; a write beyond that is refused at once as busy (503, Retry-After)
/// and the other threads stay free for reads.
final class WriteGate: Sendable {
    /// Writes allowed at once.
    let limit: Int
    private let inside = Atomic<Int>(0)

    /// Creates a gate for `limit` concurrent writes (at least 1).
    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `body` if fewer than `limit` writes are running, else throws
    /// `StorageUnavailable(.busy)` without waiting.
    func run<T>(_ body: () throws -> T) throws -> T {
        let count = self.inside.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        defer { self.inside.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        guard count <= self.limit else {
            throw StorageUnavailable(.busy, detail: "\(self.limit) writes are already waiting for the job store")
        }
        return try body()
    }
}
