import Foundation
import JobStore
import Locking
import Postgres
import PostgresStore
import TestSupport
import Testing

/// `SharedJobStore` leases on PostgreSQL: registration and epochs, renewal, expiry by the
/// database's clock, rescue, take-over on restart, and the input they refuse.
@Suite(ServerTrait.enabled, .timeLimit(.minutes(1)))
struct SharedLeaseTests {
    @Test("Registering a host again raises its epoch; the earlier lease can then neither renew, claim, take over nor write")
    func reRegistration() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let first = try store.register(host: "h1", leaseSeconds: 60)
        let a = try shared.submit()
        #expect(try store.claim(first, ClaimRequest(limit: 10)).jobs.map(\.id) == [a])
        try store.recordProcesses([(a, "t", 1)], fencedBy: first)

        let second = try store.register(host: "h1", leaseSeconds: 60)
        #expect(second.host == "h1" && second.epoch == first.epoch + 1)
        #expect(try store.renew(first, leaseSeconds: 60) == false)
        #expect(try store.renew(second, leaseSeconds: 60) == true)

        let b = try shared.submit()
        let claims = try store.claim(first, ClaimRequest(limit: 10))
        #expect(claims.jobs.isEmpty && claims.cancelRequested.isEmpty)
        #expect(try shared.owner(of: b) == SharedStore.Owner(host: nil, epoch: nil))

        // The lost lease takes nothing over (not even its own job back); the new one moves the
        // job to itself, and from then on the old lease's writes are fenced out.
        #expect(try store.takeOver(first) == [])
        #expect(try shared.owner(of: a) == SharedStore.Owner(host: "h1", epoch: first.epoch))
        let taken = try store.takeOver(second)
        #expect(taken.map(\.id) == [a])
        #expect(taken.allSatisfy { $0.tasks.isEmpty })
        #expect(try shared.owner(of: a) == SharedStore.Owner(host: "h1", epoch: second.epoch))

        #expect(try store.record([SharedStore.start(a)], fencedBy: first) == [a])
        try store.recordProcesses([(a, "t", 99)], fencedBy: first)
        let unchanged = try #require(try store.job(id: a))
        #expect(unchanged.state == .queued && unchanged.tasks[0].attempt == 0 && unchanged.tasks[0].pid == 1)

        #expect(try store.record([SharedStore.start(a)], fencedBy: second) == [])
        try store.recordProcesses([(a, "t", 77)], fencedBy: second)
        let started = try #require(try store.job(id: a))
        #expect(started.state == .running && started.tasks[0].attempt == 1 && started.tasks[0].pid == 77)
        #expect(try store.hosts().map(\.epoch) == [second.epoch])
    }

    @Test("Hosts registering the same id at once each get an epoch of their own, one higher than any before")
    func concurrentRegistration() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let stores = try (0..<4).map { _ in try shared.host() }
        let epochs = Locked<[Int64]>([])
        let failures = SharedStore.onThreads(16) { i in
            let lease = try stores[i % stores.count].register(host: "same", leaseSeconds: 60)
            epochs.withLock { $0.append(lease.epoch) }
        }
        #expect(failures == [])
        #expect(epochs.withLock { $0.sorted() } == Array(1...16))
        #expect(try shared.store.hosts().map(\.epoch) == [16])
    }

    @Test(
        "An expired lease cannot renew or claim; rescue releases its unfinished jobs (not its finished ones), counts them once, and another host claims them"
    )
    func expiryAndRescue() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let h1Store = try shared.host()
        let h2Store = try shared.host()
        let ids = try shared.submit(3)
        // Long enough for the steps before the wait even on a busy machine; the rest of the
        // test relies on it having expired by the database's clock.
        let h1 = try h1Store.register(host: "h1", leaseSeconds: 1)
        let h2 = try h2Store.register(host: "h2", leaseSeconds: 60)
        #expect(try h1Store.claim(h1, ClaimRequest(limit: 10)).jobs.map(\.id) == ids)
        #expect(try h1Store.record([SharedStore.finish(ids[0])], fencedBy: h1) == [])
        #expect(try h1Store.record([SharedStore.start(ids[1])], fencedBy: h1) == [])
        // Nothing is released while the lease holds.
        #expect(try h2Store.rescueExpired() == [:])
        #expect(try h1Store.renew(h1, leaseSeconds: 0.2) == true)

        usleep(500_000)
        let hosts = try h2Store.hosts()
        #expect(hosts.map(\.id) == ["h1", "h2"])
        #expect(hosts.map(\.live) == [false, true])
        #expect(try h1Store.renew(h1, leaseSeconds: 60) == false)
        #expect(try h1Store.claim(h1, ClaimRequest(limit: 10)).jobs.isEmpty)
        // Not yet rescued: the expired host still owns them, and fenced writes still apply.
        #expect(try shared.owner(of: ids[1]).host == "h1")

        #expect(try h2Store.rescueExpired() == ["h1": 2])
        #expect(try h2Store.rescueExpired() == [:])
        #expect(try shared.owner(of: ids[0]) == SharedStore.Owner(host: "h1", epoch: h1.epoch))
        #expect(try shared.owner(of: ids[1]) == SharedStore.Owner(host: nil, epoch: nil))
        #expect(try shared.owner(of: ids[2]) == SharedStore.Owner(host: nil, epoch: nil))
        // Its write after the rescue is fenced out, and changes nothing.
        #expect(try h1Store.record([SharedStore.finish(ids[1], .failed)], fencedBy: h1) == [ids[1]])
        #expect(try shared.store.job(id: ids[1])?.state == .running)

        let claimed = try h2Store.claim(h2, ClaimRequest(limit: 10)).jobs
        #expect(claimed.map(\.id) == [ids[1], ids[2]])
        #expect(claimed.map(\.state) == [.running, .queued])
        #expect(try h2Store.record([SharedStore.finish(ids[1])], fencedBy: h2) == [])
        // Still expired for good, even though its jobs are gone; registering anew works, and
        // takes nothing over (the jobs are h2's now).
        #expect(try h1Store.renew(h1, leaseSeconds: 60) == false)
        let again = try h1Store.register(host: "h1", leaseSeconds: 60)
        #expect(again.epoch == h1.epoch + 1)
        #expect(try h1Store.takeOver(again) == [])
        #expect(try shared.owner(of: ids[2]) == SharedStore.Owner(host: "h2", epoch: h2.epoch))
        #expect(try h2Store.hosts().map(\.live) == [true, true])
    }

    @Test("hosts() lists every host in byte order with its latest epoch and lease end, by the database's clock")
    func hostList() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        #expect(try shared.store.hosts() == [])
        let before = try #require(try shared.db.execute("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint").first?.int64(0))
        _ = try shared.store.register(host: "b", leaseSeconds: 60)
        _ = try shared.store.register(host: "\u{212A}", leaseSeconds: 60)
        _ = try shared.store.register(host: "K", leaseSeconds: 60)
        _ = try shared.store.register(host: "b", leaseSeconds: 30)
        let hosts = try shared.store.hosts()
        // "K" and U+212A are two hosts, in byte order (K < b < U+212A).
        #expect(hosts.map { Array($0.id.utf8) } == ["K", "b", "\u{212A}"].map { Array($0.utf8) })
        #expect(hosts.map(\.epoch) == [1, 2, 1])
        #expect(hosts.allSatisfy { $0.live })
        let b = hosts[1].leaseExpiresAt.timeIntervalSince1970 * 1000
        #expect(b >= Double(before) + 30_000 && b < Double(before) + 40_000)
    }

    @Test("Take-over moves the host's unfinished jobs of earlier epochs to its new lease, and no other host's jobs")
    func takeOver() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let h1 = try store.register(host: "h1", leaseSeconds: 60)
        let other = try store.register(host: "h10", leaseSeconds: 60)
        let ids = try shared.submit(4)
        #expect(try store.claim(h1, ClaimRequest(limit: 3)).jobs.map(\.id) == Array(ids[0..<3]))
        #expect(try store.claim(other, ClaimRequest(limit: 3)).jobs.map(\.id) == [ids[3]])
        #expect(try store.record([SharedStore.finish(ids[1])], fencedBy: h1) == [])
        #expect(try store.record([SharedStore.start(ids[2])], fencedBy: h1) == [])
        // The same host restarts twice without taking over in between.
        _ = try store.register(host: "h1", leaseSeconds: 60)
        let h1Now = try store.register(host: "h1", leaseSeconds: 60)

        let taken = try store.takeOver(h1Now)
        #expect(taken.map(\.id) == [ids[0], ids[2]])
        #expect(taken.map(\.state) == [.queued, .running])
        #expect(try shared.owner(of: ids[0]) == SharedStore.Owner(host: "h1", epoch: h1Now.epoch))
        #expect(try shared.owner(of: ids[2]) == SharedStore.Owner(host: "h1", epoch: h1Now.epoch))
        // The finished job keeps the epoch it finished under; the other host's job is untouched.
        #expect(try shared.owner(of: ids[1]) == SharedStore.Owner(host: "h1", epoch: h1.epoch))
        #expect(try shared.owner(of: ids[3]) == SharedStore.Owner(host: "h10", epoch: other.epoch))
        // Taking over again returns the same jobs and moves nothing.
        #expect(try store.takeOver(h1Now).map(\.id) == [ids[0], ids[2]])
        #expect(try store.takeOver(other).map(\.id) == [ids[3]])
        #expect(try store.record([SharedStore.finish(ids[2])], fencedBy: h1) == [ids[2]])
        #expect(try store.record([SharedStore.finish(ids[2])], fencedBy: h1Now) == [])
    }

    @Test("An empty host id, and a lease that is not a positive, finite time, are refused with a clear error; nothing is registered")
    func malformedInput() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let empty = try #require(throws: JobStoreError.self) { try store.register(host: "", leaseSeconds: 60) }
        #expect(empty.reason.contains("host id") && empty.reason.contains("empty"))
        let nul = try #require(throws: JobStoreError.self) { try store.register(host: "a\u{0}b", leaseSeconds: 60) }
        #expect(nul.reason.contains("NUL"))
        for seconds in [0, -1, -0.001, .nan, .infinity, -.infinity] as [Double] {
            let error = try #require(throws: JobStoreError.self, "\(seconds)") { try store.register(host: "h", leaseSeconds: seconds) }
            #expect(error.reason.contains("positive"), "\(seconds)")
        }
        #expect(try store.hosts() == [])
        let lease = try store.register(host: "h", leaseSeconds: 60)
        #expect(throws: JobStoreError.self) { try store.renew(lease, leaseSeconds: 0) }
        #expect(throws: JobStoreError.self) { try store.renew(lease, leaseSeconds: -.infinity) }
        // A lease that was never registered holds nothing.
        let stranger = HostLease(host: "nobody", epoch: 1)
        #expect(try store.renew(stranger, leaseSeconds: 60) == false)
        #expect(try store.claim(stranger, ClaimRequest(limit: 5)).jobs.isEmpty)
        #expect(try store.takeOver(stranger) == [])
        #expect(try store.hosts().map(\.id) == ["h"])
    }
}
