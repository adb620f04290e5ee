import Foundation
import Locking
import TestSupport
import Testing

@testable import Workflow

/// The watchdog that stops a host's attempts when its lease surely ran out unrenewed, even while
/// the runner's loop is blocked.
@Suite struct LeaseWatchdogTests {
    /// Counts `onExpiry` calls.
    final class Expiries: Sendable {
        let count = Locked(0)
        func record() { self.count.withLock { $0 += 1 } }
        var value: Int { self.count.withLock { $0 } }
    }

    @Test("An armed deadline that passes fires once: onExpiry runs once and takeFired says so once")
    func fires() async throws {
        let expiries = Expiries()
        let watchdog = LeaseWatchdog { expiries.record() }
        defer { watchdog.stop() }
        #expect(!watchdog.takeFired())
        watchdog.arm(until: Date().addingTimeInterval(0.1))
        #expect(await Poll.until(within: .seconds(5), every: .milliseconds(10)) { expiries.value == 1 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(expiries.value == 1, "fired again without being re-armed")
        #expect(watchdog.takeFired())
        #expect(!watchdog.takeFired(), "takeFired clears")
    }

    @Test("Re-arming before the deadline moves it (a renewal); disarming stops it (a lease given up)")
    func rearmAndDisarm() async throws {
        let expiries = Expiries()
        let watchdog = LeaseWatchdog { expiries.record() }
        defer { watchdog.stop() }
        // No sleeps between the calls: a loaded machine may wake a sleeping test seconds late,
        // which would look like a renewal that came too late.
        watchdog.arm(until: Date().addingTimeInterval(0.3))
        watchdog.arm(until: Date().addingTimeInterval(600))
        try await Task.sleep(for: .milliseconds(600))
        #expect(expiries.value == 0, "fired at the deadline it was re-armed away from")
        watchdog.arm(until: Date().addingTimeInterval(0.3))
        watchdog.disarm()
        try await Task.sleep(for: .milliseconds(600))
        #expect(expiries.value == 0 && !watchdog.takeFired(), "fired although disarmed")
    }

    @Test("After stop nothing fires, even with a deadline in the past")
    func stopped() async throws {
        let expiries = Expiries()
        let watchdog = LeaseWatchdog { expiries.record() }
        watchdog.stop()
        watchdog.arm(until: Date().addingTimeInterval(-1))
        try await Task.sleep(for: .milliseconds(300))
        #expect(expiries.value == 0)
    }
}
