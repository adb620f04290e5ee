import Foundation
import JobStore
import Testing

@testable import Sluice

@Suite("WriteGate: writes may not take every thread while the store is stalled")
struct WriteGateTests {
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

    @Test("Beyond the limit a write that finds no slot in time is refused as busy")
    func refused() throws {
        let gate = WriteGate(limit: 2, slotWait: 0.05)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        self.hold(gate, release: release, done: done)
        self.hold(gate, release: release, done: done)
        #expect(throws: StorageUnavailable.self) { try gate.run { 3 } }
        release.signal()
        release.signal()
        done.wait()
        #expect(try gate.run { 4 } == 4)
        #expect(WriteGate(limit: 0).limit == 1)
    }

    @Test("A write beyond the limit gets the slot that frees while it waits")
    func waitsForSlot() throws {
        let gate = WriteGate(limit: 1, slotWait: 5)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        self.hold(gate, release: release, done: done)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { release.signal() }
        #expect(try gate.run { 5 } == 5)
        done.wait()
    }
}
