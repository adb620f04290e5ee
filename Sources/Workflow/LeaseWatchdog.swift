import Foundation
import Locking
import Logging

/// Stops this host's attempts the moment its lease has surely run out, even while the runner's
/// loop is blocked in a store call.
///
/// Why a thread of its own: the loop notices a lost lease only when a renewal returns, and a
/// renewal sent into a network partition returns only when the connection gives up (about a
/// third of the lease later, `PostgresConnection.networkTimeouts`, plus a reconnect attempt).
/// Meanwhile the lease expires by the database's clock, another host rescues the jobs, and both
/// would run the same tasks. The loop arms the watchdog with `Hosting.stopBy` (a sixth of the
/// lease before `validUntil`, the start of the last good renewal plus the lease, which is never
/// later than the database's expiry) after every registration and renewal; renewals come every
/// third of the lease, so a healthy host never gets there. If that moment passes unrenewed, the
/// watchdog kills every process
/// of this instance (`onExpiry`) and raises `fired`, which the loop turns into `loseLease`
/// (forget the jobs unrecorded, register anew) as soon as it runs again.
final class LeaseWatchdog: Sendable {
    private struct State {
        var deadline: Date? = nil
        var fired = false
        var stopped = false
    }

    private let state = Locked(State())

    /// How often the thread looks at the deadline: the lateness of a kill at most.
    static let tick: TimeInterval = 0.05

    /// Starts the thread, disarmed.
    /// - Parameter onExpiry: run on the watchdog's thread when an armed deadline passes.
    init(onExpiry: @escaping @Sendable () -> Void) {
        let thread = Thread { [state] in
            while true {
                let due: Bool = state.withLock { state in
                    guard !state.stopped else { return false }
                    guard let deadline = state.deadline, Date() >= deadline else { return false }
                    state.deadline = nil
                    state.fired = true
                    return true
                }
                if due { onExpiry() }
                if state.withLock({ $0.stopped }) { return }
                Thread.sleep(forTimeInterval: Self.tick)
            }
        }
        thread.name = "sluice-lease-watchdog"
        thread.start()
    }

    /// Arms (or re-arms) the watchdog to fire at `deadline`.
    func arm(until deadline: Date) { self.state.withLock { $0.deadline = deadline } }

    /// Disarms it: nothing fires until the next `arm`.
    func disarm() { self.state.withLock { $0.deadline = nil } }

    /// Whether it fired since the last call (and clears that).
    func takeFired() -> Bool {
        self.state.withLock { state in
            defer { state.fired = false }
            return state.fired
        }
    }

    /// Disarms it for good and ends the thread (within one tick).
    func stop() {
        self.state.withLock { state in
            state.deadline = nil
            state.stopped = true
        }
    }
}
