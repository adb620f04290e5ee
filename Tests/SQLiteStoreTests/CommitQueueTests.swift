import Foundation
import Locking
import TestSupport
import Testing

@testable import SQLiteStore

/// `CommitQueue` on its own: the committer thread takes what waits, answers each input once,
/// spreads a failure over its batch, refuses inputs that waited too long, and ends when idle.
@Suite("CommitQueue: a committer thread commits what waits and answers each caller")
struct CommitQueueTests {
    @Test("500 inputs enqueued from one thread while a commit takes time: all answered once, in batches of at most maxBatch, in order")
    func batchesWithoutWaitingCallers() {
        let queue = CommitQueue<Int, Int>(maxBatch: 64, timeout: .seconds(30), threadName: "test.commit")
        let batches = Locked<[[Int]]>([])
        let answers = Locked<[Int: Int]>([:])
        let done = DispatchGroup()
        let commit: CommitQueue<Int, Int>.Commit = { batch in
            batches.withLock { $0.append(batch) }
            usleep(1000)  // what an fsync costs: the time in which the next batch gathers
            return batch.map { .success($0 * 2) }
        }
        for input in 0..<500 {
            done.enter()
            // No thread waits for its answer: one caller can put many inputs into one batch.
            queue.enqueue(input, commit: commit) { result in
                answers.withLock { $0[input, default: 0] += (try? result?.get()) == input * 2 ? 1 : 1000 }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        let all = batches.withLock { $0 }
        #expect(answers.withLock { $0.count == 500 && $0.values.allSatisfy { $0 == 1 } }, "every input answered once, with its own result")
        #expect(all.flatMap { $0 } == Array(0..<500), "committed once each, in queue order")
        #expect(all.allSatisfy { $0.count <= 64 })
        #expect(all.count < 500, "no batch held more than one input: \(all.count) commits")
        print("CommitQueueTests: 500 inputs in \(all.count) commits, largest \(all.map(\.count).max() ?? 0)")
    }

    @Test("A commit that throws gives every input of its batch the error; the next batch commits")
    func failureReachesTheBatch() {
        struct Broken: Error {}
        let queue = CommitQueue<Int, Int>(maxBatch: 64, timeout: .seconds(30), threadName: "test.commit")
        let hold = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let answers = Locked<[Int: String]>([:])
        let done = DispatchGroup()
        let commit: CommitQueue<Int, Int>.Commit = { batch in
            if batch == [0] {
                entered.signal()
                hold.wait()
                return [.success(0)]
            }
            if batch.contains(1) { throw Broken() }
            return batch.map { .success($0) }
        }
        func send(_ input: Int) {
            done.enter()
            queue.enqueue(input, commit: commit) { result in
                let text: String
                switch result {
                case .success(let value)?: text = "ok \(value)"
                case .failure(let error)?: text = error is Broken ? "broken" : "other"
                case nil: text = "timed out"
                }
                answers.withLock { $0[input] = text }
                done.leave()
            }
        }
        // 0 holds the committer, so 1, 2, 3 queue up and form the next batch, which fails.
        send(0)
        entered.wait()
        send(1)
        send(2)
        send(3)
        hold.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        send(4)
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(answers.withLock { $0 } == [0: "ok 0", 1: "broken", 2: "broken", 3: "broken", 4: "ok 4"])
    }

    @Test("An input no batch took within the timeout is answered nil and never committed")
    func timeout() {
        let queue = CommitQueue<Int, Int>(maxBatch: 64, timeout: .milliseconds(100), threadName: "test.commit")
        let committed = Locked<[Int]>([])
        let hold = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let commit: CommitQueue<Int, Int>.Commit = { batch in
            if batch == [0] {
                entered.signal()
                hold.wait()
            }
            committed.withLock { $0 += batch }
            return batch.map { .success($0) }
        }
        let first = Thread { _ = queue.submit(0, commit: commit) }
        first.start()
        entered.wait()
        let late = Locked<Result<Int, any Error>??>(.none)
        let waiter = Thread { late.withLock { $0 = .some(queue.submit(1, commit: commit)) } }
        waiter.start()
        usleep(300_000)  // 1 waits longer than its 100 ms while 0 holds the committer
        hold.signal()
        let deadline = Date().addingTimeInterval(30)
        while late.withLock({ $0 == nil }) && Date() < deadline { usleep(1000) }
        let answer = late.withLock { $0 }
        #expect(answer != nil)
        if case .some(.some) = answer { Issue.record("the late input was committed: \(String(describing: answer))") }
        #expect(committed.withLock { $0 } == [0])
        #expect(queue.submit(2, commit: commit).map { try? $0.get() } == 2, "the queue still commits afterwards")
    }

    @Test("The committer thread ends when the queue stays empty for its idle time, and starts again for the next input")
    func idleCommitterEnds() {
        let queue = CommitQueue<Int, Int>(maxBatch: 8, timeout: .seconds(30), idleTime: .milliseconds(50), threadName: "test.commit")
        let commit: CommitQueue<Int, Int>.Commit = { batch in batch.map { .success($0 + 1) } }
        #expect(!queue.isCommitting)
        #expect(queue.submit(1, commit: commit).map { try? $0.get() } == 2)
        let deadline = Date().addingTimeInterval(10)
        while queue.isCommitting && Date() < deadline { usleep(5000) }
        #expect(!queue.isCommitting, "the committer still runs long after its idle time")
        #expect(queue.submit(2, commit: commit).map { try? $0.get() } == 3)
    }

    @Test("A waiting caller is answered by the committer itself, even while the queue of answers is held up by another answer")
    func waitingCallerNotBehindAnswers() {
        let queue = CommitQueue<Int, Int>(maxBatch: 8, timeout: .seconds(30), threadName: "test.commit")
        let commit: CommitQueue<Int, Int>.Commit = { batch in batch.map { .success($0) } }
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        queue.enqueue(1, commit: commit) { _ in
            holding.signal()
            release.wait()  // a slow answer: the queue of answers is stuck here
        }
        holding.wait()
        let answered = Locked(false)
        let waiter = Thread {
            _ = queue.submit(2, commit: commit)
            answered.withLock { $0 = true }
        }
        waiter.start()
        let deadline = Date().addingTimeInterval(10)
        while !answered.withLock({ $0 }) && Date() < deadline { usleep(1000) }
        #expect(answered.withLock { $0 }, "the waiting caller waited behind the held-up answer")
        release.signal()
    }

    @Test("A batch's answers run in blocks of a few: one answer that waits does not hold up the answers of other blocks")
    func answersInBlocks() {
        let queue = CommitQueue<Int, Int>(maxBatch: 64, timeout: .seconds(30), threadName: "test.commit")
        let hold = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let lastAnswered = DispatchSemaphore(value: 0)
        let waited = Locked<DispatchTimeoutResult?>(nil)
        let done = DispatchGroup()
        let commit: CommitQueue<Int, Int>.Commit = { batch in
            if batch == [0] {
                entered.signal()
                hold.wait()
            }
            return batch.map { .success($0) }
        }
        let last = 2 * CommitQueue<Int, Int>.answersPerBlock
        // 0 holds the committer, so 1...last queue up and form one batch.
        done.enter()
        queue.enqueue(0, commit: commit) { _ in done.leave() }
        entered.wait()
        for input in 1...last {
            done.enter()
            queue.enqueue(input, commit: commit) { _ in
                if input == 1 {
                    // In the first block: waits for the answer of the last input (another block).
                    let result = lastAnswered.wait(timeout: .now() + 30)
                    waited.withLock { $0 = result }
                }
                if input == last { lastAnswered.signal() }
                done.leave()
            }
        }
        hold.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(waited.withLock { $0 } == .success, "the first answer waited for the last one in vain: answered one after another")
    }
}
