import JobStore
import Locking

/// The jobs' stamps (`JobStore.jobStamp`) last read, kept until a write changes the job's row,
/// so that the check behind every cached job representation (a finished job's JSON or page)
/// costs a dictionary lookup instead of a read transaction: a profile of `GET /api/v1/jobs/{id}`
/// for a finished job found 15 % of Sluice's CPU in that one-row read.
///
/// Why it cannot serve a stale stamp: only this process writes the database (the data
/// directory lock keeps out a second `serve`; `sluice audit` and `migrate` only read or migrate
/// before use), and every change of a `jobs` row on the writer connection is reported to
/// `changed(_:)` (SQLite's update hook) and forgotten by `transactionEnded()` when its
/// transaction ends, before any of its writers is answered. A read that overlaps such a write keeps its
/// stamp only if no invalidation of its stripe came in between (`generation`), so a stamp read
/// just before a commit is never kept after it.
///
/// Striped by thread, 16 ways, each stripe behind its own lock and bounded (emptied when full):
/// a reader takes only its own thread's stripe, and an invalidation goes through all of them.
/// Why not by job id: watchers of one job (16 connections asking for the same one) then all
/// queued on one stripe's lock, and its futex showed in profiles of job JSON; invalidations
/// are few per commit, reads are one per request.
final class JobStampMemo: Sendable {
    private struct Stripe {
        var stamps: [Int64: JobStamp?] = [:]
        /// Moves with every invalidation (of any job).
        var generation: UInt64 = 0
    }

    private static let stripeCount = 16
    /// Most stamps a stripe keeps.
    static let stripeCapacity = 1024
    private let stripes: [Locked<Stripe>] = (0..<JobStampMemo.stripeCount).map { _ in Locked(Stripe()) }
    /// Jobs whose rows the writer changed in its current transaction. Touched only by the
    /// writer connection's hook and by `SQLiteJobStore.commitWrites`, both under the writer's lock.
    private let touched = Locked<[Int64]>([])

    /// The calling thread's stripe.
    private var stripe: Locked<Stripe> { self.stripes[ThreadNumber.current % Self.stripeCount] }

    /// The stamp of job `id`: the kept one, or what `read` returns (kept unless a job was
    /// invalidated meanwhile). A missing job's nil is kept too: creating it invalidates it.
    func stamp(id: Int64, read: () throws -> JobStamp?) rethrows -> JobStamp? {
        let stripe = self.stripe
        let (kept, generation) = stripe.withLock { ($0.stamps[id], $0.generation) }
        if let kept { return kept }
        let stamp = try read()
        stripe.withLock {
            guard $0.generation == generation else { return }
            if $0.stamps.count >= Self.stripeCapacity { $0.stamps.removeAll(keepingCapacity: true) }
            $0.stamps[id] = .some(stamp)
        }
        return stamp
    }

    /// Notes that the writer's current transaction changed job `id`'s row.
    func changed(_ id: Int64) { self.touched.withLock { $0.append(id) } }

    /// Forgets the stamps of the jobs the writer's transaction changed; called when the
    /// transaction has ended (committed or rolled back: a rollback just forgets a stamp that
    /// was still right).
    func transactionEnded() {
        let ids = self.touched.withLock { touched -> [Int64] in
            defer { touched.removeAll(keepingCapacity: true) }
            return touched
        }
        guard !ids.isEmpty else { return }
        for stripe in self.stripes {
            stripe.withLock {
                $0.generation &+= 1
                for id in ids { $0.stamps[id] = nil }
            }
        }
    }
}
