public import Foundation
import Synchronization

/// Tells long-polling requests (`GET /api/v1/jobs/{id}?wait=S`) that a job changed. The runner
/// calls `notify` after each commit; a waiting request sleeps on a condition variable until the
/// job's generation moves past the one it saw, its deadline passes, or Sluice begins to drain.
///
/// Each waiter holds a FastCGI worker thread, so at most `maxWaiters` wait at once; others are
/// told so at once (`WaitOutcome.busy`), and answered 503 with `Retry-After`.
///
/// `@unchecked Sendable`: `generations`, `waiters` and `closed` are only read or written with
/// `condition` locked (every method locks it first); `maxWaiters` is immutable. An
/// `NSCondition` rather than `Locked`, because waiters must sleep until `notify` or `close`
/// broadcasts; it is a pthread mutex and condition variable, which ThreadSanitizer understands.
public final class JobChanges: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var generations: [Int64: UInt64] = [:]
    /// Changes made elsewhere (another host on a shared store): the notification does not say
    /// which job, so it moves every job's generation.
    private var elsewhere: UInt64 = 0
    private var waiters = 0
    private var closed = false
    /// Most requests waiting at once.
    public let maxWaiters: Int

    /// Creates a notifier.
    public init(maxWaiters: Int) { self.maxWaiters = max(0, maxWaiters) }

    /// The job's current generation (0 until its first change in this process).
    public func generation(of job: Int64) -> UInt64 {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.current(job)
    }

    /// `job`'s generation: its own changes plus those seen elsewhere. Call with `condition` locked.
    private func current(_ job: Int64) -> UInt64 { (self.generations[job] ?? 0) &+ self.elsewhere }

    /// Records a change of `job` and wakes its waiters.
    public func notify(_ job: Int64) {
        self.condition.lock()
        self.generations[job, default: 0] &+= 1
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Records that some jobs may have changed on another host (a shared store's notification):
    /// every waiter wakes and looks at its job again.
    public func notifyAll() {
        self.condition.lock()
        self.elsewhere &+= 1
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Wakes every waiter for good (drain on shutdown).
    public func close() {
        self.condition.lock()
        self.closed = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// How a wait ended.
    public enum WaitOutcome: Sendable, Equatable {
        /// The job moved past the generation.
        case changed
        /// The deadline passed first.
        case timedOut
        /// Sluice is draining: nobody waits any more.
        case closed
        /// Too many requests are waiting already; this one did not wait at all. It must not be
        /// answered like a timeout (a client that re-polls on 304 would spin).
        case busy
    }

    /// Waits until `job` moves past `generation` or `deadline` passes.
    public func wait(for job: Int64, after generation: UInt64, until deadline: Date) -> WaitOutcome {
        self.condition.lock()
        defer { self.condition.unlock() }
        if self.current(job) != generation { return .changed }
        if self.closed { return .closed }
        guard self.waiters < self.maxWaiters else { return .busy }
        self.waiters += 1
        defer { self.waiters -= 1 }
        while self.current(job) == generation && !self.closed {
            if !self.condition.wait(until: deadline) { break }
        }
        if self.current(job) != generation { return .changed }
        return self.closed ? .closed : .timedOut
    }
}
