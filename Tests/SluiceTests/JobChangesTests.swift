import Foundation
import Locking
import TestSupport
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

    @Test("A change elsewhere (another host) wakes a waiter for any job, once per change; a change of another job does not")
    func changesElsewhere() async throws {
        let changes = JobChanges(maxWaiters: 4)
        changes.notify(7)
        let seen = changes.generation(of: 1)
        #expect(seen == 0, "job 7's change is not job 1's")
        // A thread of its own, not the cooperative pool: a loaded machine may start a pool task
        // late, and the wait must begin before its deadline does.
        let outcome = Locked<JobChanges.WaitOutcome?>(nil)
        let started = Date()
        Thread { outcome.withLock { $0 = changes.wait(for: 1, after: seen, until: started.addingTimeInterval(60)) } }.start()
        try await Task.sleep(for: .milliseconds(100))
        changes.notifyAll()
        let ended = await Poll.value(within: .seconds(60), every: .milliseconds(20)) { outcome.withLock { $0 } }
        #expect(ended == .changed)
        let after = changes.generation(of: 1)
        #expect(after != seen)
        #expect(changes.wait(for: 1, after: after, until: Date().addingTimeInterval(0.05)) == .timedOut, "one wake per change")
        #expect(changes.generation(of: 7) != changes.generation(of: 1), "each job keeps its own changes too")
    }
}
