import Foundation
import JobStore
import Locking
import Testing

@testable import Sluice

@Suite("WriteGate: writes may not take every thread while the store is stalled")
struct WriteGateTests {
    /// A clock the test moves by hand, in milliseconds.
    final class Clock: Sendable {
        let value = Locked<Int64>(1_000)
        var function: @Sendable () -> Int64 { { self.value.withLock { $0 } } }
        func advance(_ milliseconds: Int64) { self.value.withLock { $0 += milliseconds } }
    }

    /// Starts a write that stays inside the gate until `release` is signalled.
    func hold(_ gate: WriteGate, release: DispatchSemaphore, done: DispatchGroup) {
        let entered = DispatchSemaphore(value: 0)
        done.enter()
        Thread {
            _ = try? gate.run {
                entered.signal()
                release.wait()
            }
            done.leave()
        }.start()
        entered.wait()
    }

    @Test("A burst of writes is admitted while the store makes progress; a stalled store refuses beyond the limit")
    func stalled() throws {
        let clock = Clock()
        let gate = WriteGate(limit: 2, stallMilliseconds: 250, clock: clock.function)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        self.hold(gate, release: release, done: done)
        self.hold(gate, release: release, done: done)
        // Two inside, but the busy period began just now: a third is admitted (a burst).
        #expect(try gate.run { 3 } == 3)
        // Nothing finishes for 300 ms: the store is stalled, and the limit is reached.
        clock.advance(300)
        #expect(throws: StorageUnavailable.self) { try gate.run { 4 } }
        // One finishes: progress again, so writes are admitted.
        release.signal()
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try gate.run { 5 } == 5)
        release.signal()
        done.wait()
        #expect(WriteGate(limit: 0).limit == 1)
    }
}
