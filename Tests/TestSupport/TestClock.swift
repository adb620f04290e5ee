public import Foundation
import Locking

/// A clock the test moves by hand, for code that takes its time from a `() -> Date` closure.
///
/// ```swift
/// let clock = TestClock(Date(timeIntervalSince1970: 1_700_000_000))
/// let store = try SQLiteJobStore(path: path, now: clock.function)
/// clock.advance(by: 60)
/// ```
public final class TestClock: Sendable {
    private let current: Locked<Date>

    /// A clock that stands at `start`.
    public init(_ start: Date) { self.current = Locked(start) }

    /// The time it shows.
    public var now: Date { self.current.withLock { $0 } }

    /// Moves the clock on by `seconds` (back, if negative).
    public func advance(by seconds: TimeInterval) { self.current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    /// `now` as a closure, for the code under test.
    public var function: @Sendable () -> Date { { self.now } }
}
