import Foundation
import JobStore
import Locking
import SQLite
import SQLiteStore
import TestSupport
import Testing

/// While another process holds the database lock, every write gives up after about one busy
/// timeout: writers do not queue behind each other one busy timeout after another.
@Suite("Writes wait a bounded time for a locked store")
struct BoundedWriteTests {
    @Test("Ten writers against a held lock all fail as busy within about one busy timeout each")
    func boundedWait() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"), busyTimeoutMilliseconds: 150)
        let holder = try Connection(path: dir.file("s.db"))
        try holder.execute(
            "BEGIN EXCLUSIVE; INSERT INTO audit (at, event, decision, reason, config_hash) VALUES (0, 'x', 'deny', 'r', 'h');")
        let results = Locked<[(busy: Bool, seconds: Double)]>([])
        let group = DispatchGroup()
        for i in 0..<10 {
            group.enter()
            Thread {
                defer { group.leave() }
                let start = ContinuousClock.now
                var busy = false
                do { _ = try store.submit(Fixtures.job(params: ["date": "2024-05-\(10 + i)"]), rules: SubmissionRules()) } catch let error
                    as StorageUnavailable
                {
                    busy = error.kind == .busy
                } catch {}
                let elapsed = ContinuousClock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                results.withLock { $0.append((busy, seconds)) }
            }.start()
        }
        group.wait()
        let all = results.withLock { $0 }
        #expect(all.count == 10)
        #expect(all.allSatisfy { $0.busy }, "\(all)")
        // Unbounded queueing would take up to 10 × 150 ms for the last writer; bounded, each waits
        // at most one timeout for its turn plus one inside SQLite.
        #expect((all.map { $0.seconds }.max() ?? 0) < 1.0, "\(all)")
        try holder.execute("ROLLBACK;")
        #expect(try store.jobs(JobQuery()).isEmpty)
        guard case .created = try store.submit(Fixtures.job(), rules: SubmissionRules()) else {
            Issue.record("a write after the lock was released failed")
            return
        }
    }
}
