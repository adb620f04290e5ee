import Foundation

/// A blocking multi-producer queue for the runner thread. Producers (request threads, process
/// waiters, timers) never block for long: they append and signal.
///
/// `@unchecked Sendable`: its one mutable property, `pending`, is only read or written with
/// `condition` locked (every method locks it first). An `NSCondition` rather than `Locked`,
/// because the consumer must sleep until a producer signals; it is a pthread mutex and
/// condition variable, which ThreadSanitizer understands.
final class EventQueue<Event: Sendable>: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Event] = []

    /// Appends an event and wakes the consumer.
    func post(_ event: Event) {
        self.condition.lock()
        self.pending.append(event)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Takes every pending event, waiting until there is one or `deadline` passes (nil: forever).
    func takeAll(until deadline: Date? = nil) -> [Event] {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.pending.isEmpty {
            // Not wait(until: .distantFuture): converting that date to a timespec traps in
            // swift-corelibs-foundation (seen with Swift 6.3.1 on Linux).
            if let deadline {
                if !self.condition.wait(until: deadline) { return [] }
            } else {
                self.condition.wait()
            }
        }
        let events = self.pending
        self.pending.removeAll(keepingCapacity: true)
        return events
    }
}
