import Foundation
import Locking
import TestSupport
import Testing

@testable import SQLiteStore

/// `GroupCommit` on its own: batching, one result per caller, failures, and the queue timeout.
@Suite("GroupCommit: callers that arrive during a commit share the next one")
struct GroupCommitTests {
    /// Runs `body(i)` on `count` threads at once and waits for all.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread {
                body(i)
                group.leave()
            }.start()
        }
        group.wait()
    }

    @Test("32 threads × 20 inputs: every caller gets its own result, batches form while a commit takes time, and no batch exceeds maxBatch")
    func batchesUnderLoad() {
        let committer = GroupCommit<Int, Int>(maxBatch: 8)
        let batches = Locked<[[Int]]>([])
        let wrong = Locked(0)
        Self.onThreads(32) { thread in
            for k in 0..<20 {
                let input = thread * 1000 + k
                let result = committer.submit(input, timeout: 30) { batch in
                    batches.withLock { $0.append(batch) }
                    usleep(500)  // what an fsync costs: the time in which the next batch gathers
                    return batch.map { .success($0 * 2) }
                }
                if (try? result?.get()) != input * 2 { wrong.withLock { $0 += 1 } }
            }
        }
        let all = batches.withLock { $0 }
        #expect(wrong.withLock { $0 } == 0)
        #expect(all.flatMap { $0 }.count == 640, "every input committed exactly once")
        #expect(Set(all.flatMap { $0 }).count == 640)
        #expect(all.allSatisfy { $0.count <= 8 })
        #expect(all.count < 640, "no batch held more than one input: \(all.count) commits")
        print("GroupCommitTests: 640 inputs from 32 threads in \(all.count) commits, largest \(all.map(\.count).max() ?? 0)")
    }

    @Test("A batch keeps queue order, and a commit that throws gives every caller of that batch the error")
    func failureReachesTheBatch() {
        struct Broken: Error {}
        let committer = GroupCommit<Int, Int>(maxBatch: 64)
        let gate = DispatchSemaphore(value: 0)
        let seen = Locked<[[Int]]>([])
        let outcomes = Locked<[Int: String]>([:])
        // The first caller leads a batch of one and holds it until the others are queued.
        let first = Thread {
            let result = committer.submit(0, timeout: 30) { batch in
                gate.wait()
                seen.withLock { $0.append(batch) }
                return batch.map { .success($0) }
            }
            outcomes.withLock { $0[0] = (try? result?.get()).map { "ok \($0)" } ?? "error" }
        }
        first.start()
        usleep(50_000)
        let group = DispatchGroup()
        for i in 1...5 {
            group.enter()
            Thread {
                defer { group.leave() }
                let result = committer.submit(i, timeout: 30) { batch in
                    seen.withLock { $0.append(batch) }
                    throw Broken()
                }
                outcomes.withLock {
                    switch result {
                    case .success(let value)?: $0[i] = "ok \(value)"
                    case .failure(let error)?: $0[i] = error is Broken ? "broken" : "other"
                    case nil: $0[i] = "timeout"
                    }
                }
            }.start()
            usleep(20_000)  // queue them in order
        }
        gate.signal()
        group.wait()
        while outcomes.withLock({ $0[0] }) == nil { usleep(1000) }
        #expect(seen.withLock { $0 } == [[0], [1, 2, 3, 4, 5]])
        #expect(outcomes.withLock { $0 } == [0: "ok 0", 1: "broken", 2: "broken", 3: "broken", 4: "broken", 5: "broken"])
    }

    @Test("An input no leader takes within its timeout comes back out of the queue (nil) and is never committed")
    func queueTimeout() {
        let committer = GroupCommit<Int, Int>(maxBatch: 64)
        let gate = DispatchSemaphore(value: 0)
        let committed = Locked<[Int]>([])
        let leader = Thread {
            _ = committer.submit(1, timeout: 30) { batch in
                gate.wait()
                committed.withLock { $0 += batch }
                return batch.map { .success($0) }
            }
        }
        leader.start()
        usleep(50_000)
        let started = ContinuousClock.now
        let result = committer.submit(2, timeout: 0.2) { batch in
            committed.withLock { $0 += batch }
            return batch.map { .success($0) }
        }
        let waited = ContinuousClock.now - started
        #expect(result == nil)
        // The deadline is on the wall clock (NSCondition's `wait(until:)`), measured here on the
        // monotonic one: the two may disagree by a millisecond (TSan's CI run saw 199.25 ms).
        #expect(waited >= .milliseconds(190) && waited < .seconds(5), "\(waited)")
        gate.signal()
        // The next caller is led at once, alone: 2 is gone from the queue.
        let after = committer.submit(3, timeout: 30) { batch in
            committed.withLock { $0 += batch }
            return batch.map { .success($0) }
        }
        #expect((try? after?.get()) == 3)
        #expect(committed.withLock { $0 }.sorted() == [1, 3])
    }
}
