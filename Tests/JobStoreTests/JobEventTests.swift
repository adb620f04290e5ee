import Foundation
import JobStore
import TestSupport
import Testing

/// The outbox of job state changes, against every store: written with the change, once per
/// change, read in order from a cursor that only moves forward.
@Suite struct JobEventTests {
    @Test(
        "Starting and ending a job writes one event each, with its pipeline; repeating a state writes none", arguments: StoreKind.allCases)
    func written(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        #expect(try store.jobEvents(after: 0, limit: 10) == [])
        let job = try store.createJob(Fixtures.job())
        #expect(try store.jobEvents(after: 0, limit: 10) == [], "queued is not an event")
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .running, pid: 1)], jobState: .running)
        try store.record(jobID: job.id, changes: [TaskChange(task: "extract", state: .succeeded, exitCode: 0)], jobState: .running)
        clock.advance(by: 2)
        try store.record(
            jobID: job.id, changes: job.tasks.dropFirst().map { TaskChange(task: $0.name, state: .failed, exitCode: 1) }, jobState: .failed)
        try store.record(jobID: job.id, changes: [], jobState: .failed)
        let events = try store.jobEvents(after: 0, limit: 10)
        #expect(events.map(\.state) == [.running, .failed])
        #expect(events.allSatisfy { $0.jobID == job.id && $0.pipeline == job.pipeline })
        #expect(events.map(\.at) == [Fixtures.epoch, Fixtures.epoch.addingTimeInterval(2)])
        #expect(events[1].id > events[0].id)
        #expect(try store.jobEvents(after: events[0].id, limit: 10) == [events[1]])
        #expect(try store.jobEvents(after: 0, limit: 1) == [events[0]])
        // A retried job that ends again is another event.
        #expect(try store.retry(jobID: job.id) != nil)
        try store.record(
            jobID: job.id, changes: job.tasks.dropFirst().map { TaskChange(task: $0.name, state: .succeeded, exitCode: 0) },
            jobState: .succeeded)
        #expect(try store.jobEvents(after: events[1].id, limit: 10).map(\.state).last == .succeeded)
    }

    @Test("Cursors start at the latest event, move only forward, and are kept per reader (as bytes)", arguments: StoreKind.allCases)
    func cursors(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        #expect(try store.eventCursor("chains") == nil)
        #expect(try store.advanceEventCursor("chains", to: nil) == 0, "no events yet")
        let job = try store.createJob(Fixtures.job())
        try store.record(jobID: job.id, changes: [], jobState: .running)
        try store.record(jobID: job.id, changes: [], jobState: .cancelled)
        let ids = try store.jobEvents(after: 0, limit: 10).map(\.id)
        #expect(ids.count == 2)
        #expect(try store.advanceEventCursor("chains", to: nil) == 0, "nil keeps an existing cursor")
        #expect(try store.advanceEventCursor("webhooks", to: nil) == ids[1], "a new reader starts at the latest")
        #expect(try store.advanceEventCursor("chains", to: ids[1]) == ids[1])
        #expect(try store.advanceEventCursor("chains", to: ids[0]) == ids[1], "never backwards")
        #expect(try store.eventCursor("chains") == ids[1])
        #expect(try store.eventCursor("\u{212A}hains") == nil && store.eventCursor("chains ") == nil)
    }

    @Test("Pruning deletes only events every reader has passed, oldest first, at most the limit", arguments: StoreKind.allCases)
    func pruning(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        for _ in 0..<3 {
            let job = try store.createJob(Fixtures.job())
            try store.record(jobID: job.id, changes: [], jobState: .running)
            try store.record(jobID: job.id, changes: [], jobState: .succeeded)
        }
        let ids = try store.jobEvents(after: 0, limit: 100).map(\.id)
        #expect(ids.count == 6)
        #expect(try store.pruneJobEvents(limit: 100) == 0, "no reader has a cursor: nothing is known to be read")
        try store.advanceEventCursor("chains", to: ids[3])
        try store.advanceEventCursor("webhooks", to: ids[1])
        #expect(try store.pruneJobEvents(limit: 1) == 1)
        #expect(try store.pruneJobEvents(limit: 100) == 1, "only up to the slowest reader")
        #expect(try store.jobEvents(after: 0, limit: 100).map(\.id) == Array(ids[2...]))
        try store.advanceEventCursor("webhooks", to: ids[5])
        #expect(try store.pruneJobEvents(limit: 100) == 2)
        #expect(try store.jobEvents(after: 0, limit: 100).map(\.id) == Array(ids[4...]))
    }
}
