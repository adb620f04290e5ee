import Foundation
import JobStore
import Locking
import Logging
import Synchronization

/// Audit records written shortly after the request they describe, many to a transaction.
///
/// For decisions about guarded upstreams other than `operate` (lighttpd's authorizer): a Luigi
/// page loads some 30 files, each authorised, and anonymous refusals cost an attacker nothing;
/// a commit each would cost more than the decision. Decisions about `operate`, and everything
/// about pipelines, are still committed before their answer. A record queued here reaches the
/// store within `interval` (or at `flush()`, which the server calls on its way out); a `kill -9`
/// loses at most that window of such records, never the record of a change.
final class AuditQueue: Sendable {
    /// Most records held at once; beyond it `enqueue` refuses and the caller writes its record
    /// itself, so a store that cannot keep up slows requests down instead of growing memory.
    static let capacity = 10_000

    private let store: any JobStore
    private let interval: Duration
    private let pending = Locked<[AuditRecord]>([])
    private let writing = Locked<Void>(())
    private let started = Atomic<Bool>(false)
    private let logger = Logger(label: "audit")

    /// Creates the queue; its writer thread starts with the first record queued.
    init(store: any JobStore, interval: Duration = .milliseconds(100)) {
        self.store = store
        self.interval = interval
    }

    /// Queues `record`; false if the queue is full (the caller then writes it synchronously).
    func enqueue(_ record: AuditRecord) -> Bool {
        let queued = self.pending.withLock { pending in
            guard pending.count < Self.capacity else { return false }
            pending.append(record)
            return true
        }
        if queued && !self.started.load(ordering: .relaxed)
            && self.started.compareExchange(
                expected: false, desired: true, ordering: .sequentiallyConsistent
            ).exchanged
        {
            let seconds = Double(self.interval.components.seconds) + Double(self.interval.components.attoseconds) / 1e18
            // Weak: the thread ends once the queue is gone (an app in a test), a strong reference
            // held only while it writes.
            let thread = Thread { [weak self] in
                while true {
                    Thread.sleep(forTimeInterval: seconds)
                    guard let queue = self else { return }
                    queue.flush()
                }
            }
            thread.name = "audit-queue"
            thread.start()
        }
        return queued
    }

    /// Records queued and not yet written.
    var backlog: Int { self.pending.withLock { $0.count } }

    /// Writes everything queued so far, before returning.
    func flush() {
        self.writing.withLock { _ in
            let batch = self.pending.withLock { pending in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            guard !batch.isEmpty else { return }
            do { try self.store.appendAudit(batch) } catch {
                // The store refused (full disk, lost database): keep the records for the next
                // round, in front of newer ones, rather than drop evidence.
                self.logger.error(
                    "cannot write audit records; keeping them for the next try", ["count": String(batch.count), "error": "\(error)"])
                self.pending.withLock { pending in
                    pending.insert(contentsOf: batch.prefix(Self.capacity - min(pending.count, Self.capacity)), at: 0)
                }
            }
        }
    }

}
