import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Polling: asks a condition again and again until it holds or a deadline passes.
///
/// Every variant asks at once, then after each `interval` while the deadline has not passed, and
/// once more when it has; so a condition that holds at the deadline still counts.
///
/// ```swift
/// // In an async test: wait (at most 20 s) until the job is terminal.
/// let job = try await Poll.value(within: .seconds(20)) { try store.job(id: id).filter { $0.state.isTerminal } }
/// // In a synchronous test: block the thread instead.
/// let gone = Poll.blockingUntil(within: .seconds(5)) { ProcessTable.isGone(pid) }
/// ```
public enum Poll {
    /// Asks `attempt` until it returns a value or `timeout` passes, sleeping (`Task.sleep`)
    /// `interval` between tries.
    /// - Returns: The first value `attempt` returned, or nil if it returned nil until the deadline
    ///   (or the task was cancelled).
    /// - Throws: What `attempt` throws; polling stops there.
    public static func value<T>(
        within timeout: Duration, every interval: Duration = .milliseconds(20), _ attempt: () async throws -> T?
    ) async rethrows -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try await attempt() { return value }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            try? await Task.sleep(for: interval)
        }
    }

    /// Asks `condition` until it holds or `timeout` passes, sleeping (`Task.sleep`) `interval`
    /// between tries.
    /// - Returns: Whether `condition` held in time.
    /// - Throws: What `condition` throws; polling stops there.
    @discardableResult
    public static func until(
        within timeout: Duration, every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
    ) async rethrows -> Bool {
        try await self.value(within: timeout, every: interval) { try await condition() ? true : nil } ?? false
    }

    /// Asks `attempt` until it returns a value or `timeout` passes, blocking the calling thread
    /// `interval` between tries; for synchronous tests and harness code.
    /// - Returns: The first value `attempt` returned, or nil if it returned nil until the deadline.
    /// - Throws: What `attempt` throws; polling stops there.
    public static func blockingValue<T>(
        within timeout: Duration, every interval: Duration = .milliseconds(20), _ attempt: () throws -> T?
    ) rethrows -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try attempt() { return value }
            guard ContinuousClock.now < deadline else { return nil }
            self.sleepBlocking(interval)
        }
    }

    /// Asks `condition` until it holds or `timeout` passes, blocking the calling thread `interval`
    /// between tries; for synchronous tests and harness code.
    /// - Returns: Whether `condition` held in time.
    /// - Throws: What `condition` throws; polling stops there.
    @discardableResult
    public static func blockingUntil(
        within timeout: Duration, every interval: Duration = .milliseconds(20), _ condition: () throws -> Bool
    ) rethrows -> Bool {
        try self.blockingValue(within: timeout, every: interval) { try condition() ? true : nil } ?? false
    }

    /// Runs `step` on a thread of its own, again and again with `interval` between runs, until
    /// `deadline`; for a test that must keep sending requests through a time window.
    ///
    /// Why a thread: on a 2-core machine the cooperative pool has 2 threads, and the other
    /// suites' blocking calls can hold both; a `Task.sleep` in such a loop once woke only after
    /// the whole window had passed, so the loop sent one request instead of a hundred.
    /// - Returns: The state after the last run.
    public static func repeatedlyOnThread<State: Sendable>(
        until deadline: ContinuousClock.Instant, every interval: Duration = .milliseconds(50), startingWith initial: State,
        _ step: @escaping @Sendable (inout State) -> Void
    ) async -> State {
        await withCheckedContinuation { continuation in
            Thread {
                var state = initial
                repeat {
                    step(&state)
                    self.sleepBlocking(interval)
                } while ContinuousClock.now < deadline
                continuation.resume(returning: state)
            }.start()
        }
    }

    /// Blocks the calling thread for `interval` (whole microseconds).
    private static func sleepBlocking(_ interval: Duration) {
        let microseconds = interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000
        usleep(useconds_t(max(0, min(microseconds, Int64(useconds_t.max)))))
    }
}
