import Foundation
import JobStore
import Locking
import SQLite
import TestSupport
import Testing

@testable import SQLiteStore

/// `JobStampMemo`: a job's stamp is read from SQLite once and kept until the writer changes the
/// job's row; a kept stamp must never be older than a committed change.
@Suite("Jobs' stamps are kept between writes of their row, never across one")
struct JobStampMemoTests {
    static let queued = JobStamp(state: .queued, startedAt: nil, finishedAt: nil)
    static let running = JobStamp(state: .running, startedAt: Date(timeIntervalSince1970: 1), finishedAt: nil)

    @Test("A kept stamp is answered without reading; an invalidated one is read again")
    func keptUntilInvalidated() {
        let memo = JobStampMemo()
        let reads = Locked(0)
        func ask(_ stamp: JobStamp?) -> JobStamp? {
            memo.stamp(id: 7) {
                reads.withLock { $0 += 1 }
                return stamp
            }
        }
        #expect(ask(Self.queued) == Self.queued)
        #expect(ask(Self.running) == Self.queued, "kept: not read again")
        #expect(reads.withLock { $0 } == 1)
        memo.changed(7)
        #expect(ask(Self.running) == Self.queued, "a change counts once its transaction has ended")
        memo.transactionEnded()
        #expect(ask(Self.running) == Self.running)
        #expect(reads.withLock { $0 } == 2)
    }

    @Test("A read that overlaps the end of a transaction changing the job is answered but not kept")
    func overlappingReadIsNotKept() {
        let memo = JobStampMemo()
        let first = memo.stamp(id: 3) {
            // The writer commits and ends its transaction while this read runs.
            memo.changed(3)
            memo.transactionEnded()
            return Self.queued
        }
        #expect(first == Self.queued)
        #expect(memo.stamp(id: 3) { Self.running } == Self.running, "the stamp read during the write was not kept")
        // A change of another job does not drop its stamp.
        memo.changed(4)
        memo.transactionEnded()
        #expect(memo.stamp(id: 3) { Self.queued } == Self.running)
    }

    @Test("A stamp kept by 8 reading threads (each its own stripe) is forgotten by all of them when a transaction on another ends")
    func invalidatedOnEveryThread() {
        let memo = JobStampMemo()
        let seen = Locked([[JobStamp?]](repeating: [], count: 8))
        let firstDone = DispatchGroup()
        let secondDone = DispatchGroup()
        let again = DispatchSemaphore(value: 0)
        // The same 8 threads read before and after the write: a new thread would have a stripe
        // of its own with nothing kept in it.
        for t in 0..<8 {
            firstDone.enter()
            secondDone.enter()
            Thread {
                let before = memo.stamp(id: 5) { Self.queued }
                firstDone.leave()
                again.wait()
                let after = memo.stamp(id: 5) { Self.running }
                seen.withLock { $0[t] = [before, after] }
                secondDone.leave()
            }.start()
        }
        firstDone.wait()
        // The writer (this thread) changes the job and ends its transaction.
        memo.changed(5)
        memo.transactionEnded()
        for _ in 0..<8 { again.signal() }
        secondDone.wait()
        #expect(seen.withLock { $0 }.allSatisfy { $0 == [Self.queued, Self.running] }, "no thread kept the old stamp")
    }

    @Test("A missing job's nil is kept until the job is created; a full stripe starts over")
    func missingAndBounded() {
        let memo = JobStampMemo()
        #expect(memo.stamp(id: 42) { nil } == nil)
        #expect(memo.stamp(id: 42) { Self.queued } == nil)
        memo.changed(42)
        memo.transactionEnded()
        #expect(memo.stamp(id: 42) { Self.queued } == Self.queued)
        // Fill this thread's stripe past its capacity: it never holds more.
        for k in 0...JobStampMemo.stripeCapacity { _ = memo.stamp(id: Int64(k * 16)) { Self.queued } }
        #expect(memo.stamp(id: Int64(JobStampMemo.stripeCapacity * 16)) { Self.running } == Self.queued, "the last one is kept")
        #expect(memo.stamp(id: 0) { Self.running } == Self.running, "the first was dropped when the stripe filled")
    }

    @Test("Through the store: every way a job's row changes, committed or undone, is seen by the next stamp")
    func throughTheStore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        let job = try store.createJob(Fixtures.job())
        #expect(try store.jobStamp(id: job.id)?.state == .queued)
        // A raw UPDATE in a write of its own.
        try store.write { db in try db.run("UPDATE jobs SET state = 'running', started_at = 1000 WHERE id = ?", [.integer(job.id)]) }
        #expect(try store.jobStamp(id: job.id) == JobStamp(state: .running, startedAt: Date(timeIntervalSince1970: 1), finishedAt: nil))
        // A write that fails after changing the row is undone: the stamp read again is unchanged.
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try store.write { db in
                try db.run("UPDATE jobs SET state = 'failed' WHERE id = ?", [.integer(job.id)])
                throw Refused()
            }
        }
        #expect(try store.jobStamp(id: job.id)?.state == .running)
        // Writes from 8 threads that each change the job, each followed by a stamp read on the
        // same thread: the read sees at least its own write (never an older kept stamp).
        let wrong = Locked<[String]>([])
        GroupCommitTests.onThreads(8) { thread in
            for k in 0..<20 {
                let finished = Int64(thread * 1000 + k + 2000)
                do {
                    try store.write { db in
                        try db.run(
                            "UPDATE jobs SET finished_at = max(coalesce(finished_at, 0), ?) WHERE id = ?",
                            [.integer(finished), .integer(job.id)])
                    }
                    let seen = try store.jobStamp(id: job.id)?.finishedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? 0
                    if seen < finished { wrong.withLock { $0.append("wrote \(finished), then read \(seen)") } }
                } catch {
                    wrong.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(wrong.withLock { $0 }.isEmpty)
        #expect(try store.jobStamp(id: job.id) == store.storedStamp(id: job.id))
    }
}
