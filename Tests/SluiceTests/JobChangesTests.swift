import Foundation
import Testing

@testable import Sluice

@Suite("JobChanges: how a long-poll wait ends")
struct JobChangesTests {
    @Test("Changed, timed out, closed and busy are told apart")
    func outcomes() {
        let changes = JobChanges(maxWaiters: 1)
        let soon = Date().addingTimeInterval(0.05)
        #expect(changes.wait(for: 1, after: 0, until: soon) == .timedOut)
        changes.notify(1)
        #expect(changes.wait(for: 1, after: 0, until: Date().addingTimeInterval(5)) == .changed)
        #expect(JobChanges(maxWaiters: 0).wait(for: 1, after: 0, until: Date().addingTimeInterval(5)) == .busy)
        changes.close()
        #expect(changes.wait(for: 1, after: 1, until: Date().addingTimeInterval(5)) == .closed)
    }
}
