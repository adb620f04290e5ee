import Foundation

/// Group commit: callers that arrive while a commit is under way wait, and the next of them to
/// get the turn commits all of them in one transaction (one fsync), then hands each its own
/// result.
///
/// A caller puts its input in the queue and waits. When no batch is being committed, one waiting
/// caller becomes the leader: it takes up to `maxBatch` queued inputs (oldest first), runs
/// `commit` on them outside the lock, stores each result on its input's slot and wakes everyone.
/// Inputs queued meanwhile form the next batch. Alone, a caller leads a batch of one at once, so
/// an idle store answers as fast as before; under load the batch grows with the time one commit
/// takes, which is what makes the fsyncs per second, not the triggers, the limit.
///
/// A caller whose input no leader has taken within `timeout` takes it back out of the queue and
/// gets `nil` (the store reports that as busy); once taken, it waits for the leader's result,
/// which the leader's own write bounds.
final class GroupCommit<Input, Output>: @unchecked Sendable {
    /// One caller's input and, once its batch is committed, its result.
    private final class Slot {
        let input: Input
        var output: Result<Output, any Error>?
        var taken = false
        init(_ input: Input) { self.input = input }
    }

    // `queue`, `leading` and every slot's `output` and `taken` are read and written only with
    // `condition` locked. An NSCondition (a pthread mutex and condition variable, which
    // ThreadSanitizer understands) because followers sleep until their batch is done.
    private let condition = NSCondition()
    private var queue: [Slot] = []
    private var leading = false
    /// The most inputs one commit takes.
    let maxBatch: Int

    /// Creates a committer taking at most `maxBatch` inputs per commit (at least 1).
    init(maxBatch: Int) { self.maxBatch = max(1, maxBatch) }

    /// Commits `input` in a batch with whatever else is waiting.
    /// - Parameters:
    ///   - timeout: how long the input may wait in the queue before a leader takes it.
    ///   - commit: commits a batch, returning one result per input, in order; called by the
    ///     leader without the lock held. If it throws, every input of the batch gets that error.
    /// - Returns: this input's result, or nil if no leader took it within `timeout`.
    func submit(_ input: Input, timeout: TimeInterval, commit: ([Input]) throws -> [Result<Output, any Error>]) -> Result<
        Output, any Error
    >? {
        let slot = Slot(input)
        let deadline = Date().addingTimeInterval(timeout)
        self.condition.lock()
        defer { self.condition.unlock() }
        self.queue.append(slot)
        while true {
            if let output = slot.output { return output }
            if !self.leading {
                lead()
                continue
            }
            if slot.taken {
                // In a batch being committed: the leader's write bounds the wait.
                self.condition.wait()
            } else if !self.condition.wait(until: deadline) && !slot.taken && slot.output == nil {
                // Still queued after the deadline: leave the queue, nothing of it was written.
                self.queue.removeAll { $0 === slot }
                return nil
            }
        }

        /// Takes a batch, commits it with the lock released, and publishes the results.
        func lead() {
            self.leading = true
            let batch = Array(self.queue.prefix(self.maxBatch))
            self.queue.removeFirst(batch.count)
            for member in batch { member.taken = true }
            self.condition.unlock()
            let outputs: [Result<Output, any Error>]
            do {
                let results = try commit(batch.map(\.input))
                precondition(
                    results.count == batch.count, "GroupCommit: commit returned \(results.count) results for \(batch.count) inputs")
                outputs = results
            } catch {
                outputs = Array(repeating: .failure(error), count: batch.count)
            }
            self.condition.lock()
            for (member, output) in zip(batch, outputs) { member.output = output }
            self.leading = false
            self.condition.broadcast()
        }
    }
}
