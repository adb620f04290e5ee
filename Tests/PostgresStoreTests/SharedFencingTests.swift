import Foundation
import JobStore
import Locking
import Postgres
import PostgresStore
import TestSupport
import Testing

/// Fenced writes on PostgreSQL: a lease changes only the jobs it owns, a rescue and the expired
/// host's own writes never both take effect, and a retried job belongs to nobody.
@Suite(ServerTrait.enabled, .timeLimit(.minutes(1)))
struct SharedFencingTests {
    @Test("A fenced write applies only the updates of jobs the lease owns, and names the refused ones (other hosts', unowned, missing)")
    func partialBatch() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        let j = try shared.submit(3)
        #expect(try store.claim(h1, ClaimRequest(limit: 1)).jobs.map(\.id) == [j[0]])
        #expect(try store.claim(h2, ClaimRequest(limit: 1)).jobs.map(\.id) == [j[1]])

        let missing: Int64 = 999_999_999
        let refused = try store.record(
            [SharedStore.start(j[0]), SharedStore.start(j[1]), SharedStore.start(j[2]), SharedStore.start(missing)], fencedBy: h1)
        #expect(refused == [j[1], j[2], missing])
        #expect(try store.job(id: j[0])?.state == .running)
        for id in [j[1], j[2]] {
            let job = try #require(try store.job(id: id))
            #expect(job.state == .queued && job.tasks[0].attempt == 0 && job.tasks[0].pid == nil)
        }

        try store.recordProcesses([(j[0], "t", 11), (j[1], "t", 22), (missing, "t", 33)], fencedBy: h1)
        #expect(try store.job(id: j[0])?.tasks[0].pid == 11)
        #expect(try store.job(id: j[1])?.tasks[0].pid == nil)
        // A batch the lease owns entirely is refused nothing, and an empty one is a no-op.
        #expect(try store.record([SharedStore.finish(j[0])], fencedBy: h1) == [])
        #expect(try store.record([], fencedBy: h1) == [])
        // A finished job stays owned, and a fenced write to it still applies (as unfenced writes
        // to finished jobs do): ownership, not the state, is what a fence checks.
        #expect(try shared.owner(of: j[0]).host == "h1")
        // The unfenced writes are unchanged: they apply to any job.
        try store.record([SharedStore.start(j[2])])
        #expect(try store.job(id: j[2])?.state == .running)
    }

    @Test("An update for a task the owned job does not have still throws, and the fenced batch changes nothing")
    func unknownTaskInFencedBatch() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let lease = try store.register(host: "h", leaseSeconds: 60)
        let j = try shared.submit(2)
        _ = try store.claim(lease, ClaimRequest(limit: 2))
        let bad = JobUpdate(jobID: j[1], changes: [TaskChange(task: "nope", state: .running)], jobState: .running)
        #expect(throws: JobStoreError.self) { try store.record([SharedStore.start(j[0]), bad], fencedBy: lease) }
        #expect(try store.job(id: j[0])?.state == .queued)
    }

    @Test("Retrying a finished job clears its owner, so any host can claim it")
    func retryClearsOwner() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        let id = try shared.submit()
        #expect(try store.claim(h1, ClaimRequest(limit: 1)).jobs.map(\.id) == [id])
        #expect(try store.record([SharedStore.finish(id, .failed)], fencedBy: h1) == [])
        #expect(try shared.owner(of: id) == SharedStore.Owner(host: "h1", epoch: h1.epoch))
        #expect(try store.retry(jobID: id)?.state == .queued)
        #expect(try shared.owner(of: id) == SharedStore.Owner(host: nil, epoch: nil))
        #expect(try store.takeOver(h1) == [])
        #expect(try store.claim(h2, ClaimRequest(limit: 1)).jobs.map(\.id) == [id])
        #expect(try store.record([SharedStore.finish(id)], fencedBy: h1) == [id])
        #expect(try store.record([SharedStore.finish(id)], fencedBy: h2) == [])
    }

    @Test("When an expired host writes while another host rescues and claims its jobs, each job gets exactly one of the two")
    func rescueRacesTheExpiredHost() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let oldStore = try shared.host()
        let newStore = try shared.host()
        let old = try oldStore.register(host: "old", leaseSeconds: 60)
        let new = try newStore.register(host: "new", leaseSeconds: 60)
        let ids = try shared.submit(60)
        #expect(try oldStore.claim(old, ClaimRequest(limit: 100)).jobs.count == 60)
        try shared.expire("old")

        let applied = Locked<[Int64]>([])
        let rescued = Locked<[String: Int]>([:])
        let claimed = Locked<[Int64]>([])
        let failures = SharedStore.onThreads(2) { thread in
            if thread == 0 {
                // The expired host goes on finishing its jobs one by one, as a slow host would.
                for id in ids where try oldStore.record([SharedStore.finish(id)], fencedBy: old).isEmpty {
                    applied.withLock { $0.append(id) }
                }
            } else {
                usleep(UInt32.random(in: 0...30_000))
                let counts = try newStore.rescueExpired()
                rescued.withLock { $0 = counts }
                let jobs = try newStore.claim(new, ClaimRequest(limit: 100)).jobs.map(\.id)
                claimed.withLock { $0 = jobs }
            }
        }
        #expect(failures == [])
        // A claim skips rows other transactions hold (SKIP LOCKED): a fenced write of the old
        // host that was being refused held one, so the next claim takes what this one skipped.
        let rest = try newStore.claim(new, ClaimRequest(limit: 100)).jobs.map(\.id)
        let finishedByOld = Set(applied.withLock { $0 })
        let takenByNew = Set(claimed.withLock { $0 } + rest)
        #expect(finishedByOld.isDisjoint(with: takenByNew))
        #expect(finishedByOld.union(takenByNew) == Set(ids))
        #expect(rescued.withLock { $0 }["old", default: 0] == takenByNew.count)
        for id in takenByNew {
            #expect(try shared.store.job(id: id)?.state == .queued)
            #expect(try shared.owner(of: id) == SharedStore.Owner(host: "new", epoch: new.epoch))
        }
        for id in finishedByOld { #expect(try shared.store.job(id: id)?.state == .succeeded) }
    }
}
