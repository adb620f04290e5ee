import Foundation
import JobStore
import TestSupport
import Testing

/// The webhook deliveries' outbox, against every store: made once per event and webhook with the
/// cursor's move, claimed when due, attempts recorded, listed for admins, redelivered, pruned.
@Suite struct DeliveryTests {
    static func delivery(_ event: Int64, job: Int64 = 1, pipeline: String = "etl", webhook: String = "ops") -> NewDelivery {
        NewDelivery(
            eventID: event, jobID: job, pipeline: pipeline, webhook: webhook, event: "job.succeeded", body: #"{"event_id":\#(event)}"#)
    }

    @Test("Enqueueing makes one delivery per event and webhook and moves the cursor in the same call", arguments: StoreKind.allCases)
    func enqueue(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries([Self.delivery(7), Self.delivery(7, webhook: "audit")], consumer: "notifications", through: 7)
        #expect(try store.eventCursor("notifications") == 7)
        // The same events handed out again (a crash before the cursor moved elsewhere, another host).
        try store.enqueueDeliveries([Self.delivery(7), Self.delivery(8)], consumer: "notifications", through: 8)
        let all = try store.deliveries(DeliveryQuery())
        #expect(all.map(\.eventID) == [8, 7, 7], "newest first, (7, ops) once")
        #expect(Set(all.map(\.webhook)) == ["ops", "audit"])
        #expect(all.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.createdAt == Fixtures.epoch })
        #expect(all.first?.body == #"{"event_id":8}"#)
        // A cursor never moves back, also through an empty enqueue.
        try store.enqueueDeliveries([], consumer: "notifications", through: 3)
        #expect(try store.eventCursor("notifications") == 8)
    }

    @Test("Claiming takes due pending deliveries oldest due first and holds them until the claim runs out", arguments: StoreKind.allCases)
    func claim(_ kind: StoreKind) throws {
        let clock = TestClock(Fixtures.epoch)
        let h = try kind.make(clock: clock)
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries((1...3).map { Self.delivery($0) }, consumer: "n", through: 3)
        let now = Fixtures.epoch
        let first = try store.claimDueDeliveries(now: now, limit: 2, claimUntil: now + 60)
        #expect(first.map(\.eventID) == [1, 2])
        #expect(first.allSatisfy { $0.nextAttemptAt == now + 60 })
        #expect(try store.claimDueDeliveries(now: now, limit: 10, claimUntil: now + 60).map(\.eventID) == [3])
        #expect(try store.claimDueDeliveries(now: now + 59, limit: 10, claimUntil: now + 120) == [], "all are claimed")
        // A claim that ran out (the sender crashed, or is slow) makes them due again...
        let again = try store.claimDueDeliveries(now: now + 61, limit: 10, claimUntil: now + 200)
        #expect(again.count == 3)
        // ...and the late outcome of the first claim no longer counts; the new claim's does.
        let late = DeliveryAttempt(at: now + 62, status: 500, error: "HTTP 500", next: .failed)
        #expect(try !store.recordDeliveryAttempt(id: first[0].id, claimedUntil: first[0].nextAttemptAt, late))
        let fresh = DeliveryAttempt(at: now + 63, status: 200, error: nil, next: .delivered)
        #expect(try store.recordDeliveryAttempt(id: again[0].id, claimedUntil: again[0].nextAttemptAt, fresh))
        #expect(try store.deliveries(DeliveryQuery(state: .delivered)).map(\.id) == [again[0].id])
    }

    @Test(
        "Attempts are counted; delivered and failed ones are no longer claimed; a retry is due at its time", arguments: StoreKind.allCases)
    func attempts(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries((1...3).map { Self.delivery($0) }, consumer: "n", through: 3)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let ids = try store.claimDueDeliveries(now: t + 3600, limit: 10, claimUntil: t + 3700).map(\.id)
        #expect(
            try store.recordDeliveryAttempt(
                id: ids[0], claimedUntil: nil, DeliveryAttempt(at: t, status: 204, error: nil, next: .delivered)))
        #expect(
            try store.recordDeliveryAttempt(
                id: ids[1], claimedUntil: nil, DeliveryAttempt(at: t, status: 500, error: "HTTP 500", next: .retry(at: t + 10))))
        let long = String(repeating: "é", count: 400)
        #expect(
            try store.recordDeliveryAttempt(id: ids[2], claimedUntil: nil, DeliveryAttempt(at: t, status: nil, error: long, next: .failed)))
        #expect(
            try !store.recordDeliveryAttempt(
                id: ids[0], claimedUntil: nil, DeliveryAttempt(at: t, status: 200, error: nil, next: .delivered)),
            "a delivered one takes no more attempts")
        #expect(
            try !store.recordDeliveryAttempt(id: 9999, claimedUntil: nil, DeliveryAttempt(at: t, status: 200, error: nil, next: .delivered))
        )
        let byID = Dictionary(try store.deliveries(DeliveryQuery()).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID[ids[0]]?.state == .delivered && byID[ids[0]]?.lastStatus == 204 && byID[ids[0]]?.attempts == 1)
        #expect(byID[ids[1]]?.state == .pending && byID[ids[1]]?.nextAttemptAt == t + 10 && byID[ids[1]]?.lastError == "HTTP 500")
        #expect(byID[ids[2]]?.state == .failed && byID[ids[2]]?.lastStatus == nil)
        #expect(byID[ids[2]]?.lastError?.utf8.count == 500, "the error is cut at 500 bytes, on a character")
        #expect(byID[ids[1]]?.lastAttemptAt == t)
        #expect(try store.claimDueDeliveries(now: t + 9, limit: 10, claimUntil: t + 100) == [])
        #expect(try store.claimDueDeliveries(now: t + 10, limit: 10, claimUntil: t + 100).map(\.id) == [ids[1]])
    }

    @Test("Listing filters by state, pipeline (as bytes) and job, and pages by id", arguments: StoreKind.allCases)
    func listing(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries(
            [Self.delivery(1, job: 1, pipeline: "Kelvin"), Self.delivery(2, job: 2, pipeline: "\u{212A}elvin"), Self.delivery(3, job: 2)],
            consumer: "n", through: 3)
        #expect(try store.deliveries(DeliveryQuery(pipeline: "Kelvin")).map(\.eventID) == [1])
        #expect(try store.deliveries(DeliveryQuery(pipeline: "\u{212A}elvin")).map(\.eventID) == [2])
        #expect(try store.deliveries(DeliveryQuery(jobID: 2)).map(\.eventID) == [3, 2])
        #expect(try store.deliveries(DeliveryQuery(state: .delivered)) == [])
        let newest = try store.deliveries(DeliveryQuery(limit: 1))
        #expect(newest.map(\.eventID) == [3])
        #expect(try store.deliveries(DeliveryQuery(beforeID: newest[0].id, limit: 5)).map(\.eventID) == [2, 1])
    }

    @Test("Redelivery makes a failed delivery due now with its audit record; a delivered one is unchanged", arguments: StoreKind.allCases)
    func redeliver(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries([Self.delivery(1), Self.delivery(2)], consumer: "n", through: 2)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let ids = try store.claimDueDeliveries(now: t + 3600, limit: 10, claimUntil: t + 3700).map(\.id)
        try store.recordDeliveryAttempt(
            id: ids[0], claimedUntil: nil, DeliveryAttempt(at: t, status: 500, error: "HTTP 500", next: .failed))
        try store.recordDeliveryAttempt(id: ids[1], claimedUntil: nil, DeliveryAttempt(at: t, status: 200, error: nil, next: .delivered))
        let audit = AuditRecord(
            at: t, event: "redeliver", allowed: true, user: "ada", identitySource: "remote_user", pipeline: nil, jobID: nil,
            reason: "delivery \(ids[0])", requestID: "r1", clientAddress: nil, configHash: "abc")
        let again = try store.redeliver(id: ids[0], at: t + 5, audit: audit)
        #expect(again?.state == .pending && again?.nextAttemptAt == t + 5 && again?.attempts == 1)
        #expect(try store.auditRecords(AuditQuery()).map(\.event) == ["redeliver"])
        #expect(try store.redeliver(id: ids[1], at: t + 5, audit: audit)?.state == .delivered)
        #expect(try store.auditRecords(AuditQuery()).count == 1, "nothing changed, nothing audited")
        #expect(try store.redeliver(id: 9999, at: t, audit: audit) == nil)
        #expect(try store.claimDueDeliveries(now: t + 5, limit: 10, claimUntil: t + 60).map(\.id) == [ids[0]])
    }

    @Test("Pruning deletes finished deliveries older than the bound, never pending ones", arguments: StoreKind.allCases)
    func prune(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.enqueueDeliveries((1...4).map { Self.delivery($0) }, consumer: "n", through: 4)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let ids = try store.claimDueDeliveries(now: t + 3600, limit: 10, claimUntil: t + 3700).map(\.id)
        try store.recordDeliveryAttempt(id: ids[0], claimedUntil: nil, DeliveryAttempt(at: t, status: 200, error: nil, next: .delivered))
        try store.recordDeliveryAttempt(id: ids[1], claimedUntil: nil, DeliveryAttempt(at: t, status: nil, error: "down", next: .failed))
        try store.recordDeliveryAttempt(
            id: ids[2], claimedUntil: nil, DeliveryAttempt(at: t + 100, status: 200, error: nil, next: .delivered))
        try store.recordDeliveryAttempt(
            id: ids[3], claimedUntil: nil, DeliveryAttempt(at: t, status: 500, error: "HTTP 500", next: .retry(at: t + 1)))
        #expect(try store.pruneDeliveries(finishedBefore: t + 50, limit: 10) == 2)
        #expect(Set(try store.deliveries(DeliveryQuery()).map(\.id)) == [ids[2], ids[3]])
    }
}
