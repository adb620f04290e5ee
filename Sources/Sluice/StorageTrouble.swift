import Foundation
import JobStore
import Locking

/// Counts the storage errors requests met (`StorageUnavailable`) and remembers the last one's
/// time, so `/healthz` can say "degraded" without touching the store.
final class StorageTrouble: Sendable {
    private struct State {
        var count = 0
        var last: Date? = nil
    }

    private let state = Locked(State())

    /// Records one error.
    func record(_ error: StorageUnavailable, at now: Date = Date()) {
        self.state.withLock {
            $0.count += 1
            $0.last = now
        }
    }

    /// The errors since start, and whether one happened within the last `seconds`.
    func state(within seconds: TimeInterval, now: Date = Date()) -> (count: Int, recent: Bool) {
        self.state.withLock { state in
            (state.count, state.last.map { now.timeIntervalSince($0) < seconds } ?? false)
        }
    }
}
