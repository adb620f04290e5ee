import Foundation
import JobStore
import Locking
import Postgres
import PostgresStore
import TestSupport
import Testing

/// `SharedJobStore.claim` on PostgreSQL: every job claimed once, in id order, by the admission
/// rules applied over all hosts (limit, cancel requests, draining, pipeline concurrency, the
/// wait-for-identity rule), with pipelines and identities compared as bytes.
@Suite(ServerTrait.enabled, .timeLimit(.minutes(2)))
struct SharedClaimTests {
    @Test("A job pinned to a host (its secret values live there) is claimed only by that host while its lease lives, by any host after")
    func hostAffinity() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        var pinned = SharedStore.newJob()
        pinned.hostAffinity = "h1"
        guard case .created(let job) = try store.submit(pinned, rules: SubmissionRules()) else {
            Issue.record("not created")
            return
        }
        let free = try shared.submit()
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [free], "h2 must not take h1's pinned job")
        #expect(try store.claim(h1, ClaimRequest(limit: 10)).jobs.map(\.id) == [job.id])
        // Released (as by a rescue) while h1's lease lives: still h1's only.
        try shared.db.execute("UPDATE jobs SET owner = NULL, owner_epoch = NULL WHERE id = $1", [.int64(job.id)])
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.isEmpty)
        try shared.expire("h1")
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [job.id], "a host whose lease ended holds nothing back")
        // Pinned to a host that never registered: anyone.
        var orphan = SharedStore.newJob()
        orphan.hostAffinity = "\u{212A}elvin"
        guard case .created(let other) = try store.submit(orphan, rules: SubmissionRules()) else { return }
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [other.id])
    }

    @Test(
        "Hosts claiming at once from several threads, while jobs are being submitted, claim every job exactly once, each claim in id order and within its limit"
    )
    func concurrentClaims() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let hosts = try (0..<3).map { i in
            let store = try shared.host()
            return (store, try store.register(host: "h\(i)", leaseSeconds: 60))
        }
        let submitted = Locked<[Int64]>(try shared.submit(60, "a"))
        let submitting = Locked(true)
        let claims = Locked<[(host: String, limit: Int, ids: [Int64])]>([])
        let failures = SharedStore.onThreads(7) { thread in
            if thread == 6 {
                defer { submitting.withLock { $0 = false } }
                for i in 0..<60 {
                    let id = try shared.submit(i % 2 == 0 ? "a" : "b")
                    submitted.withLock { $0.append(id) }
                }
                return
            }
            let (store, lease) = hosts[thread % hosts.count]
            let limit = 1 + thread % 4
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                // Read before claiming: once every submission has committed, an empty claim
                // means no job is left (claims run one at a time and nothing else holds rows).
                let done = !submitting.withLock { $0 }
                let ids = try store.claim(lease, ClaimRequest(limit: limit)).jobs.map(\.id)
                if !ids.isEmpty { claims.withLock { $0.append((lease.host, limit, ids)) } }
                if ids.isEmpty {
                    if done { break }
                    usleep(500)
                }
            }
        }
        #expect(failures == [])
        let all = claims.withLock { $0 }
        let claimed = all.flatMap(\.ids)
        #expect(claimed.count == 120)
        #expect(Set(claimed) == Set(submitted.withLock { $0 }))
        for claim in all {
            #expect(claim.ids.count <= claim.limit)
            #expect(claim.ids == claim.ids.sorted(), "\(claim.ids)")
            for id in claim.ids { #expect(try shared.owner(of: id).host == claim.host) }
        }
        // Every host got some (each had two threads claiming all along).
        #expect(Set(all.map(\.host)).count == 3)
    }

    @Test(
        "A claim takes at most limit jobs, oldest first, plus every cancel-requested one; while draining only those; and reports cancel requests on jobs it already owned"
    )
    func limitsCancelAndDraining() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        let j = try shared.submit(6)
        _ = try store.requestCancel(jobID: j[1])
        _ = try store.requestCancel(jobID: j[4])

        var claims = try store.claim(h1, ClaimRequest(limit: 3, draining: true))
        #expect(claims.jobs.map(\.id) == [j[1], j[4]])
        #expect(claims.jobs.allSatisfy { $0.cancelRequested })
        #expect(claims.cancelRequested == [])  // only jobs owned before this claim
        claims = try store.claim(h1, ClaimRequest(limit: 0))
        #expect(claims.jobs.isEmpty)
        #expect(claims.cancelRequested == [j[1], j[4]])
        #expect(try store.claim(h1, ClaimRequest(limit: 1)).jobs.map(\.id) == [j[0]])

        _ = try store.requestCancel(jobID: j[0])  // owned by h1
        _ = try store.requestCancel(jobID: j[3])  // nobody's
        claims = try store.claim(h1, ClaimRequest(limit: 1))
        // j[2] fills the limit; j[3] comes along for its cancel request; j[5] waits.
        #expect(claims.jobs.map(\.id) == [j[2], j[3]])
        #expect(claims.cancelRequested == [j[0], j[1], j[4]])
        #expect(try store.claim(h2, ClaimRequest(limit: 10, draining: true)).jobs.isEmpty)
        claims = try store.claim(h2, ClaimRequest(limit: 10))
        #expect(claims.jobs.map(\.id) == [j[5]])
        #expect(claims.cancelRequested == [])
        // Finished jobs are no longer reported.
        #expect(try store.record([SharedStore.finish(j[1], .cancelled)], fencedBy: h1) == [])
        #expect(try store.claim(h1, ClaimRequest(limit: 0)).cancelRequested == [j[0], j[3], j[4]])
    }

    @Test(
        "Pipeline concurrency is counted over every host's jobs: a full pipeline waits, other pipelines and cancel requests go on, and a finished job frees its slot"
    )
    func concurrencyAcrossHosts() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let limits = ["etl": 2]
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        let h3 = try store.register(host: "h3", leaseSeconds: 60)
        let e = try shared.submit(4, "etl")
        let other = try shared.submit(2, "other")
        #expect(try store.claim(h1, ClaimRequest(limit: 1, concurrency: limits)).jobs.map(\.id) == [e[0]])
        #expect(try store.claim(h2, ClaimRequest(limit: 10, concurrency: limits)).jobs.map(\.id) == [e[1]] + other)
        #expect(try store.claim(h3, ClaimRequest(limit: 10, concurrency: limits)).jobs.isEmpty)
        // A cancel request is admitted even into a full pipeline (and counts there).
        _ = try store.requestCancel(jobID: e[3])
        #expect(try store.claim(h3, ClaimRequest(limit: 10, concurrency: limits)).jobs.map(\.id) == [e[3]])
        #expect(try shared.ownedUnfinished("etl") == 3)
        #expect(try store.record([SharedStore.finish(e[0])], fencedBy: h1) == [])
        #expect(try store.claim(h3, ClaimRequest(limit: 10, concurrency: limits)).jobs.isEmpty)
        #expect(try store.record([SharedStore.finish(e[3], .cancelled)], fencedBy: h3) == [])
        #expect(try store.claim(h3, ClaimRequest(limit: 10, concurrency: limits)).jobs.map(\.id) == [e[2]])
        // Without a limit in the request, the pipeline is unlimited for that claim.
        let more = try shared.submit(1, "etl")
        #expect(try store.claim(h1, ClaimRequest(limit: 10)).jobs.map(\.id) == more)
        // A limit of 0 admits nothing new.
        let last = try shared.submit("etl")
        #expect(try store.claim(h1, ClaimRequest(limit: 10, concurrency: ["etl": 0])).jobs.isEmpty)
        #expect(try shared.owner(of: last).host == nil)
    }

    @Test(
        "Three hosts claiming and finishing jobs at once never have more jobs of a pipeline owned and unfinished than its concurrency, and finish them all"
    )
    func concurrencyUnderContention() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let total = 30
        let etl = try shared.submit(total, "etl")
        let limits = ["etl": 2]
        let hosts = try (0..<3).map { i in
            let store = try shared.host()
            return (store, try store.register(host: "h\(i)", leaseSeconds: 60))
        }
        let finished = Locked<[Int64]>([])
        let maximum = Locked(0)
        let problems = Locked<[String]>([])
        let deadline = ContinuousClock.now + .seconds(60)
        let failures = SharedStore.onThreads(7) { thread in
            if thread == 6 {
                // The monitor: samples the committed state while the hosts work.
                let monitor = try shared.schema.connect()
                defer { monitor.close() }
                while finished.withLock({ $0.count }) < total && ContinuousClock.now < deadline {
                    let owned = Int(
                        try monitor.execute(
                            "SELECT count(*) FROM jobs WHERE owner IS NOT NULL AND state IN ('queued','running') AND pipeline = 'etl'"
                        ).first?.int64(0) ?? 0)
                    maximum.withLock { $0 = max($0, owned) }
                    usleep(200)
                }
                return
            }
            let (store, lease) = hosts[thread % hosts.count]
            while finished.withLock({ $0.count }) < total && ContinuousClock.now < deadline {
                let jobs = try store.claim(lease, ClaimRequest(limit: 3, concurrency: limits)).jobs
                if jobs.count > 2 { problems.withLock { $0.append("one claim took \(jobs.count) etl jobs") } }
                for job in jobs {
                    usleep(UInt32.random(in: 0...3000))
                    let refused = try store.record([SharedStore.finish(job.id)], fencedBy: lease)
                    if !refused.isEmpty { problems.withLock { $0.append("\(lease) was refused \(refused)") } }
                    finished.withLock { $0.append(job.id) }
                }
                if jobs.isEmpty { usleep(300) }
            }
        }
        #expect(failures == [])
        #expect(problems.withLock { $0 } == [])
        #expect(finished.withLock { $0.sorted() } == etl)
        #expect(maximum.withLock { $0 } <= 2)
        #expect(maximum.withLock { $0 } >= 1)
        #expect(try shared.ownedUnfinished("etl") == 0)
    }

    @Test(
        "A job waiting for its identity is claimed by no host while an earlier unfinished job of its pipeline has that identity, owned by any host or by none"
    )
    func waitForIdentity() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let h2 = try store.register(host: "h2", leaseSeconds: 60)
        let a = try shared.submit(identity: "x", queue: true)  // the first of x: nothing to wait for
        let b = try shared.submit(identity: "x", queue: true)
        let c = try shared.submit(identity: "y", queue: true)
        let d = try shared.submit(identity: "x")  // on_duplicate: allow, so it does not wait
        let e = try shared.submit("other", identity: "x", queue: true)  // another pipeline's x
        #expect(try store.claim(h1, ClaimRequest(limit: 1)).jobs.map(\.id) == [a])
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [c, d, e])
        #expect(try store.record([SharedStore.finish(a)], fencedBy: h1) == [])
        // Only earlier jobs count: d (unfinished, same identity) came after b.
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [b])

        // An earlier job nobody owns yet: held by another transaction, the claim skips it, and
        // must not take the later one of its identity in its place.
        let f = try shared.submit(identity: "z", queue: true)
        let g = try shared.submit(identity: "z", queue: true)
        let h = try shared.submit(identity: "w", queue: true)
        let holder = try shared.schema.connect()
        defer { holder.close() }
        try holder.execute("BEGIN")
        try holder.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", [.int64(f)])
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [h])
        try holder.execute("ROLLBACK")
        #expect(try store.claim(h1, ClaimRequest(limit: 10)).jobs.map(\.id) == [f])
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.isEmpty)
        // A cancel request is admitted whatever it waits for.
        _ = try store.requestCancel(jobID: g)
        #expect(try store.claim(h2, ClaimRequest(limit: 10)).jobs.map(\.id) == [g])
    }

    @Test(
        "Identities and pipeline names that are canonically equivalent but different bytes (K and U+212A KELVIN SIGN) are counted and waited for apart"
    )
    func bytesNotCanonicalEquivalence() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let lease = try store.register(host: "h", leaseSeconds: 60)
        let kelvin = "\u{212A}"
        let k1 = try shared.submit("K")
        let kv1 = try shared.submit(kelvin)
        let k2 = try shared.submit("K")
        let kv2 = try shared.submit(kelvin)
        // A limit on "K" is no limit on U+212A, and U+212A's jobs do not count for "K".
        #expect(try store.claim(lease, ClaimRequest(limit: 10, concurrency: ["K": 1])).jobs.map(\.id) == [k1, kv1, kv2])
        let kv3 = try shared.submit(kelvin)
        // Two U+212A jobs are owned (the "K" ones do not count): one more fits under 3.
        #expect(try store.claim(lease, ClaimRequest(limit: 10, concurrency: [kelvin: 3])).jobs.map(\.id) == [k2, kv3])
        let kv4 = try shared.submit(kelvin)
        #expect(try store.claim(lease, ClaimRequest(limit: 10, concurrency: [kelvin: 3])).jobs.isEmpty)
        #expect(try store.claim(lease, ClaimRequest(limit: 10, concurrency: ["K": 2])).jobs.map(\.id) == [kv4])

        // Identities: a job waiting for "K" does not wait for an earlier U+212A.
        let first = try shared.submit("p", identity: kelvin, queue: true)
        let second = try shared.submit("p", identity: "K", queue: true)
        let third = try shared.submit("p", identity: kelvin, queue: true)
        #expect(try store.claim(lease, ClaimRequest(limit: 10)).jobs.map(\.id) == [first, second])
        #expect(try shared.owner(of: third).host == nil)
    }

    @Test("Claims page through many claimable jobs: jobs behind a long backlog of a full pipeline are still claimed")
    func backlogOfAFullPipeline() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let lease = try store.register(host: "h", leaseSeconds: 60)
        // More than one page of a pipeline limited to one job, then another pipeline's job.
        let busy = try shared.submit(450, "busy")
        let late = try shared.submit("late")
        let claimed = try store.claim(lease, ClaimRequest(limit: 5, concurrency: ["busy": 1])).jobs.map(\.id)
        #expect(claimed == [busy[0], late])
    }
}
