import Foundation
import JobStore
import TestSupport
import Testing

/// The audit log: append, query, and nothing else, against every store.
@Suite struct AuditLogTests {
    private func record(_ event: String, allowed: Bool, user: String?, pipeline: String?, at: Date = Date()) -> AuditRecord {
        AuditRecord(
            at: at, event: event, allowed: allowed, user: user, identitySource: "remote_user", pipeline: pipeline, jobID: nil,
            reason: "because", requestID: "r1", clientAddress: "127.0.0.1", configHash: "abc")
    }

    @Test("Records come back newest first, filtered by pipeline scope, user, event and decision", arguments: StoreKind.allCases)
    func filters(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.appendAudit(self.record("authenticate", allowed: false, user: nil, pipeline: nil))
        try store.appendAudit(self.record("trigger", allowed: true, user: "bob", pipeline: "etl"))
        try store.appendAudit(self.record("trigger", allowed: false, user: "carol", pipeline: "etl"))
        try store.appendAudit(self.record("cancel", allowed: true, user: "bob", pipeline: "secret"))
        #expect(try store.auditRecords(AuditQuery()).map(\.event) == ["cancel", "trigger", "trigger", "authenticate"])
        #expect(try store.auditRecords(AuditQuery(pipelines: ["etl"], includeUnscoped: false)).count == 2)
        #expect(try store.auditRecords(AuditQuery(pipelines: ["etl"], includeUnscoped: true)).count == 3)
        #expect(try store.auditRecords(AuditQuery(pipelines: [], includeUnscoped: false)).isEmpty)
        #expect(try store.auditRecords(AuditQuery(user: "bob")).map(\.pipeline) == ["secret", "etl"])
        #expect(try store.auditRecords(AuditQuery(allowed: false)).map(\.event) == ["trigger", "authenticate"])
        let newest = try store.auditRecords(AuditQuery(limit: 1))
        #expect(try store.auditRecords(AuditQuery(beforeID: newest[0].id, limit: 1)).first?.event == "trigger")
    }

    @Test("Scopes, events, times and limits: the rest of the query", arguments: StoreKind.allCases)
    func moreFilters(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let t0 = Fixtures.epoch
        try store.appendAudit(self.record("authenticate", allowed: false, user: nil, pipeline: nil, at: t0))
        try store.appendAudit(self.record("trigger", allowed: true, user: "bob", pipeline: "etl", at: t0.addingTimeInterval(10)))
        try store.appendAudit(self.record("cancel", allowed: true, user: "bob", pipeline: "etl", at: t0.addingTimeInterval(20)))
        try store.appendAudit(self.record("reload", allowed: true, user: "root", pipeline: nil, at: t0.addingTimeInterval(30)))
        // Without a pipeline set, includeUnscoped false leaves out the records about no pipeline.
        #expect(try store.auditRecords(AuditQuery(includeUnscoped: false)).map(\.event) == ["cancel", "trigger"])
        // An empty pipeline set with unscoped records: only those.
        #expect(try store.auditRecords(AuditQuery(pipelines: [], includeUnscoped: true)).map(\.event) == ["reload", "authenticate"])
        #expect(try store.auditRecords(AuditQuery(event: "cancel")).map(\.event) == ["cancel"])
        #expect(try store.auditRecords(AuditQuery(event: "nothing")).isEmpty)
        // since is inclusive.
        #expect(try store.auditRecords(AuditQuery(since: t0.addingTimeInterval(20))).map(\.event) == ["reload", "cancel"])
        #expect(try store.auditRecords(AuditQuery(user: "bob", event: "trigger", allowed: true)).count == 1)
        #expect(try store.auditRecords(AuditQuery(user: "bob", allowed: false)).isEmpty)
        #expect(try store.auditRecords(AuditQuery(limit: 0)).isEmpty)
        #expect(try store.auditRecords(AuditQuery(limit: -1)).isEmpty)
        #expect(try store.auditRecords(AuditQuery(limit: Int.max)).count == 4)
    }

    @Test("Every field of a record round-trips; ids increase; times are whole milliseconds", arguments: StoreKind.allCases)
    func roundTrip(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        let at = Date(timeIntervalSince1970: 1_700_000_000.123_4)
        let full = AuditRecord(
            at: at, event: "trigger", allowed: true, user: "O'Brien 🚀", identitySource: "assertion", pipeline: "etl", jobID: 42,
            reason: "roles.ops.grants[0]", requestID: "req-1", clientAddress: "2001:db8::1", configHash: "sha256:abc")
        let sparse = AuditRecord(
            at: at, event: "authenticate", allowed: false, user: nil, identitySource: nil, pipeline: nil, jobID: nil,
            reason: "no credentials", requestID: nil, clientAddress: nil, configHash: "")
        try store.appendAudit(full)
        try store.appendAudit(sparse)
        let records = try store.auditRecords(AuditQuery())
        #expect(records.count == 2)
        #expect(records[0].id > records[1].id && records[1].id > 0)
        var expectedFull = full
        expectedFull.id = records[1].id
        expectedFull.at = StoredTime.rounded(at)
        var expectedSparse = sparse
        expectedSparse.id = records[0].id
        expectedSparse.at = StoredTime.rounded(at)
        #expect(records == [expectedSparse, expectedFull])
    }

    @Test("Audit records are append-only: changing or deleting them behind the store's back is refused", arguments: StoreKind.allCases)
    func appendOnly(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        try store.appendAudit(self.record("trigger", allowed: true, user: "bob", pipeline: "etl"))
        #expect(throws: (any Error).self) { try h.tamperWithAudit() }
        #expect(throws: (any Error).self) { try h.deleteAudit() }
        #expect(try store.auditRecords(AuditQuery()).first?.user == "bob")
        // Appending more, and the store's other work, leave earlier records as they were.
        let first = try store.auditRecords(AuditQuery())
        try store.appendAudit(self.record("cancel", allowed: false, user: "carol", pipeline: nil))
        let job = try store.createJob(Fixtures.job())
        _ = try store.requestCancel(jobID: job.id, audit: self.record("cancel", allowed: true, user: "bob", pipeline: "etl"))
        #expect(Array(try store.auditRecords(AuditQuery()).suffix(1)) == first)
    }
}
