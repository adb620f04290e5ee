import Foundation
import Locking
import TestSupport
import Testing

@testable import Sluice

/// `JobChanges`: long-poll watchers that hold no thread while they wait.
@Suite("JobChanges: how a long-poll wait ends")
struct JobChangesTests {
    /// Records each watcher's outcome by a key.
    final class Outcomes: Sendable {
        let seen = Locked<[Int: [JobChanges.WaitOutcome]]>([:])
        func record(_ key: Int) -> @Sendable (JobChanges.WaitOutcome) -> Void {
            { outcome in self.seen.withLock { $0[key, default: []].append(outcome) } }
        }
        func of(_ key: Int) -> [JobChanges.WaitOutcome] { self.seen.withLock { $0[key] ?? [] } }
        var count: Int { self.seen.withLock { $0.values.reduce(0) { $0 + $1.count } } }
    }

    /// A deadline no test reaches. Why not 60 s: on a 2-core machine the other suites' blocking
    /// calls can hold the cooperative pool's two threads for a minute under ThreadSanitizer; a
    /// poll that first looked after the deadline saw every watcher timed out (CI, stop 27).
    static func farDeadline() -> Date { Date().addingTimeInterval(3600) }

    @Test("Outcomes known at once are returned, not fired: changed, busy, closed")
    func immediate() {
        let changes = JobChanges(maxWatchers: 1)
        changes.notify(1)
        let never: @Sendable (JobChanges.WaitOutcome) -> Void = { _ in Issue.record("fired an immediate outcome") }
        #expect(changes.watch(job: 1, after: 0, until: Date().addingTimeInterval(5), never) == .changed)
        #expect(JobChanges(maxWatchers: 0).watch(job: 1, after: 0, until: Date().addingTimeInterval(5), never) == .busy)
        let closed = JobChanges(maxWatchers: 4)
        closed.close()
        #expect(closed.watch(job: 1, after: 0, until: Date().addingTimeInterval(5), never) == .closed)
    }

    @Test("A watcher fires once: changed when its job changes, timed out at its deadline; others' changes do not wake it")
    func firesOnce() async {
        let changes = JobChanges(maxWatchers: 8)
        let outcomes = Outcomes()
        #expect(changes.watch(job: 1, after: 0, until: Self.farDeadline(), outcomes.record(1)) == nil)
        #expect(changes.watch(job: 2, after: 0, until: Date().addingTimeInterval(0.2), outcomes.record(2)) == nil)
        #expect(changes.waiting == 2)
        changes.notify(7)
        changes.notify(1)
        #expect(await Poll.until(within: .seconds(60)) { outcomes.of(1) == [.changed] })
        #expect(await Poll.until(within: .seconds(60)) { outcomes.of(2) == [.timedOut] })
        changes.notify(1)
        try? await Task.sleep(for: .milliseconds(100))
        #expect(outcomes.of(1) == [.changed], "fired once")
        #expect(changes.waiting == 0)
    }

    @Test("A change elsewhere (another host) fires every watcher; close fires the rest with closed")
    func elsewhereAndClose() async {
        let changes = JobChanges(maxWatchers: 8)
        let outcomes = Outcomes()
        for job in 1...3 {
            #expect(changes.watch(job: Int64(job), after: 0, until: Self.farDeadline(), outcomes.record(job)) == nil)
        }
        changes.notifyAll()
        #expect(await Poll.until(within: .seconds(60)) { outcomes.count == 3 })
        #expect((1...3).allSatisfy { outcomes.of($0) == [.changed] })
        let seen = changes.generation(of: 9)
        #expect(changes.watch(job: 9, after: seen, until: Self.farDeadline(), outcomes.record(9)) == nil)
        changes.close()
        #expect(await Poll.until(within: .seconds(60)) { outcomes.of(9) == [.closed] })
    }

    @Test("1,000 watchers on 10 jobs: each fires exactly once with its job's change; the limit refuses the 1,001st")
    func many() async {
        let changes = JobChanges(maxWatchers: 1000)
        let outcomes = Outcomes()
        for key in 0..<1000 {
            #expect(changes.watch(job: Int64(key % 10), after: 0, until: Self.farDeadline(), outcomes.record(key)) == nil)
        }
        #expect(changes.watch(job: 1, after: 0, until: Self.farDeadline(), { _ in }) == .busy)
        for job in 0..<5 { changes.notify(Int64(job)) }
        #expect(await Poll.until(within: .seconds(60)) { outcomes.count == 500 })
        #expect((0..<1000).allSatisfy { outcomes.of($0) == ($0 % 10 < 5 ? [.changed] : []) })
        changes.close()
        #expect(await Poll.until(within: .seconds(60)) { outcomes.count == 1000 })
        #expect(changes.waiting == 0)
    }
}
