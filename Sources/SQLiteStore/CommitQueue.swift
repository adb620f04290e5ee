import Foundation

/// Group commit by a committer thread of its own: callers hand in an input with a completion and
/// go on; the committer takes every waiting input (up to `maxBatch`, oldest first), commits them
/// in one transaction, and then hands the batch's completions, a few to a block, to Dispatch's
/// concurrent queue, which calls them while the committer goes on to the next batch.
///
/// Why a thread of its own: a trigger whose FastCGI request is parked (`DeferredResponse`) has no
/// thread waiting for its commit, so no caller can lead the next batch (as `GroupCommit`'s callers
/// do). With the request threads free, the batch is no longer bounded by their number: at 16
/// connections and 8 worker threads, triggers that each held a thread through the fsync committed
/// about 3 per transaction (see docs/benchmarks.md).
///
/// The committer starts with the first input and ends after a second with nothing to do, so an
/// idle store (and every store a test opens and drops) keeps no thread. An input no batch has
/// taken within `timeout` (the committer was held up, e.g. by another process's lock) is
/// answered with nil instead of being committed: the caller reports the store as busy.
final class CommitQueue<Input, Output>: @unchecked Sendable {
    /// Commits a batch, returning one result per input, in order; if it throws, every input of
    /// the batch gets that error.
    typealias Commit = @Sendable ([Input]) throws -> [Result<Output, any Error>]
    /// Gets an input's result, or nil if no batch took it within `timeout`.
    typealias Completion = @Sendable (Result<Output, any Error>?) -> Void

    private struct Entry {
        let input: Input
        let queued: ContinuousClock.Instant
        let commit: Commit
        let completion: Completion
        /// Called on the committer's thread instead of a block of answers: a waiting caller's
        /// completion only wakes it, and must not wait behind other callers' answers.
        let direct: Bool
    }

    // `queue` and `running` are read and written only with `condition` locked. An NSCondition (a
    // pthread mutex and condition variable, which ThreadSanitizer understands) because the
    // committer sleeps until an input arrives.
    private let condition = NSCondition()
    private var queue: [Entry] = []
    /// Whether a committer thread exists (it may be committing or waiting for inputs).
    private var running = false
    /// The most inputs one commit takes.
    let maxBatch: Int
    /// How long an input may wait for a batch before it is answered with nil.
    let timeout: Duration
    /// How long the committer waits for an input before it ends.
    let idleTime: Duration
    private let threadName: String
    /// How many completions one block of answers calls, one after another.
    ///
    /// Why blocks of a few, on the concurrent queue: the answers were once one serial queue, and
    /// at 16 connections the last trigger of a batch waited for the others' answers (each a
    /// JSON body, a FastCGI write and a close) while a quarter of the 2 cores stood idle. Blocks
    /// of 4 raised triggers/s by about a tenth (docs/benchmarks.md); blocks of one would cost a
    /// hop each.
    static var answersPerBlock: Int { 4 }

    /// Creates a queue committing at most `maxBatch` inputs at a time (at least 1).
    init(maxBatch: Int, timeout: Duration, idleTime: Duration = .seconds(1), threadName: String) {
        self.maxBatch = max(1, maxBatch)
        self.timeout = timeout
        self.idleTime = idleTime
        self.threadName = threadName
    }

    /// Whether a committer thread exists now (committing, or waiting for inputs until idle).
    var isCommitting: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.running
    }

    /// Queues `input`; `completion` is called once, on a thread of Dispatch's concurrent queue,
    /// after the batch holding it committed (or failed), or with nil if no batch took it within
    /// `timeout`. Completions of one batch may run in any order, and at the same time.
    ///
    /// `commit` travels with the input (instead of being given once to `init`) so that the queue
    /// does not keep its owner alive: the store owns the queue, and the committer lets go of every
    /// closure once its queue is empty.
    func enqueue(_ input: Input, commit: @escaping Commit, completion: @escaping Completion) {
        self.enqueue(input, commit: commit, direct: false, completion: completion)
    }

    private func enqueue(_ input: Input, commit: @escaping Commit, direct: Bool, completion: @escaping Completion) {
        self.condition.lock()
        self.queue.append(Entry(input: input, queued: .now, commit: commit, completion: completion, direct: direct))
        guard !self.running else {
            self.condition.signal()
            self.condition.unlock()
            return
        }
        self.running = true
        self.condition.unlock()
        let thread = Thread { [self] in self.commitUntilIdle() }
        thread.name = self.threadName
        thread.start()
    }

    /// Queues `input` and waits for its result: what `enqueue` would hand the completion. The
    /// caller is woken by the committer itself, not through a block of answers, so it never
    /// waits behind other callers' answers.
    func submit(_ input: Input, commit: @escaping Commit) -> Result<Output, any Error>? {
        let done = DispatchSemaphore(value: 0)
        let answer = Answer()
        self.enqueue(input, commit: commit, direct: true) { result in
            answer.result = result
            done.signal()
        }
        done.wait()
        return answer.result
    }

    /// Calls the completions of `entries` with `outputs`: waiting callers' at once, the others
    /// in blocks of `answersPerBlock` on the concurrent queue, which write them to their sockets
    /// while this thread commits the next batch (they were a fifth of this thread's work under
    /// trigger load, all of it inside the commit cycle).
    private func answer(_ entries: [Entry], with outputs: [Result<Output, any Error>?]) {
        var block = Answered(completions: [], outputs: [])
        func send() {
            let answered = block
            DispatchQueue.global().async { for (completion, output) in zip(answered.completions, answered.outputs) { completion(output) } }
            block = Answered(completions: [], outputs: [])
        }
        for (entry, output) in zip(entries, outputs) {
            if entry.direct {
                entry.completion(output)
                continue
            }
            block.completions.append(entry.completion)
            block.outputs.append(output)
            if block.completions.count == Self.answersPerBlock { send() }
        }
        if !block.completions.isEmpty { send() }
    }

    /// Some of a committed batch's completions with their results, handed to one block of
    /// answers: only that block reads them after the committer made them.
    private struct Answered: @unchecked Sendable {
        var completions: [Completion]
        var outputs: [Result<Output, any Error>?]
    }

    /// Where `submit` receives its result: written by the committer before it signals the
    /// semaphore, read by the caller after the wait, so the semaphore orders the two.
    private final class Answer: @unchecked Sendable {
        var result: Result<Output, any Error>?
    }

    /// The committer: takes batches while there are inputs, and ends after `idleTime` without.
    private func commitUntilIdle() {
        self.condition.lock()
        while true {
            if self.queue.isEmpty {
                let idle = self.idleTime.components
                let deadline = Date().addingTimeInterval(Double(idle.seconds) + Double(idle.attoseconds) / 1e18)
                while self.queue.isEmpty {
                    if !self.condition.wait(until: deadline) && self.queue.isEmpty {
                        self.running = false
                        self.condition.unlock()
                        return
                    }
                }
            }
            let taken = self.queue.prefix(self.maxBatch)
            self.queue.removeFirst(taken.count)
            self.condition.unlock()
            let now = ContinuousClock.now
            var batch: [Entry] = []
            var expired: [Entry] = []
            batch.reserveCapacity(taken.count)
            for entry in taken {
                if now - entry.queued > self.timeout { expired.append(entry) } else { batch.append(entry) }
            }
            if !expired.isEmpty {
                self.answer(expired, with: Array(repeating: nil, count: expired.count))
            }
            if let first = batch.first {
                let outputs: [Result<Output, any Error>]
                do {
                    let results = try first.commit(batch.map(\.input))
                    precondition(
                        results.count == batch.count, "CommitQueue: commit returned \(results.count) results for \(batch.count) inputs")
                    outputs = results
                } catch {
                    outputs = Array(repeating: .failure(error), count: batch.count)
                }
                self.answer(batch, with: outputs.map { $0 })
            }
            self.condition.lock()
        }
    }
}
