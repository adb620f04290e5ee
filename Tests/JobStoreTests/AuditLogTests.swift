import Foundation
import JobStore
import SQLite
import TestSupport
import Testing

@Suite struct AuditLogTests {
    private func record(_ event: String, allowed: Bool, user: String?, pipeline: String?, at: Date = Date()) -> AuditRecord {
        AuditRecord(
            at: at, event: event, allowed: allowed, user: user, identitySource: "remote_user", pipeline: pipeline, jobID: nil,
            reason: "because", requestID: "r1", clientAddress: "127.0.0.1", configHash: "abc")
    }

    @Test("Records come back newest first, filtered by pipeline scope, user, event and decision")
    func filters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
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

    @Test("The audit table is append-only: SQL that updates or deletes records is refused")
    func appendOnly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        try store.appendAudit(self.record("trigger", allowed: true, user: "bob", pipeline: "etl"))
        let connection = try Connection(path: dir.file("s.db"))
        #expect(throws: SQLiteError.self) { try connection.run("UPDATE audit SET user = 'mallory'") }
        #expect(throws: SQLiteError.self) { try connection.run("DELETE FROM audit") }
        #expect(try store.auditRecords(AuditQuery()).first?.user == "bob")
    }
}
