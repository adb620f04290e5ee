import Foundation
import TestSupport
import Testing
import Workflow

@Suite struct ActivityTests {
    @Test("Drained needs counts from a pass that saw the drain, not only zero counts")
    func drainedNeedsFreshCounts() {
        #expect(Runner.Activity(draining: true, countsSeeDraining: true).isDrained)
        #expect(!Runner.Activity(draining: true, countsSeeDraining: false).isDrained)
        #expect(!Runner.Activity(activeJobs: 1, draining: true).isDrained)
        #expect(!Runner.Activity(draining: false).isDrained)
    }

    @Test("drain() marks the published counts stale until the runner's next pass publishes fresh ones")
    func drainMarksCountsStale() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        // Not started: no pass runs, so the counts stay those from before the drain.
        h.runner.drain(true)
        #expect(h.runner.activity.draining)
        #expect(!h.runner.activity.countsSeeDraining)
        #expect(!h.runner.waitUntilDrained(timeout: .milliseconds(100)))
        h.start()
        #expect(h.runner.waitUntilDrained(timeout: .seconds(10)))
        #expect(h.runner.activity.countsSeeDraining)
    }
}
