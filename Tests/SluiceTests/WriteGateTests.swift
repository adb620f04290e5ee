import Foundation
import JobStore
import Synchronization
import Testing

@testable import Sluice

@Suite("WriteGate: a bounded number of requests wait on store writes")
struct WriteGateTests {
    @Test("Beyond the limit a write is refused at once as busy; a slot frees when a write ends")
    func bounded() throws {
        let gate = WriteGate(limit: 1)
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            _ = try? gate.run {
                entered.signal()
                release.wait()
            }
            finished.signal()
        }.start()
        entered.wait()
        #expect(throws: StorageUnavailable.self) { try gate.run { 1 } }
        release.signal()
        finished.wait()
        #expect(try gate.run { 2 } == 2)
        #expect(WriteGate(limit: 0).limit == 1)
    }
}
