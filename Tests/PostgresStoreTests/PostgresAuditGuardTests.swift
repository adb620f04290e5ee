import Foundation
import JobStore
import Postgres
import TestSupport
import Testing

@testable import PostgresStore

/// The audit table's append-only guard: triggers refuse UPDATE, DELETE and TRUNCATE from any
/// connection, while INSERT and SELECT work.
@Suite(ServerTrait.enabled)
struct PostgresAuditGuardTests {
    @Test("UPDATE, DELETE and TRUNCATE of audit records are refused, even when they match no row; the records stay")
    func refused() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let store = try schema.store()
        try store.appendAudit(
            AuditRecord(
                at: Date(), event: "trigger", allowed: true, user: "bob", identitySource: "remote_user", pipeline: "etl", jobID: nil,
                reason: "because", requestID: nil, clientAddress: nil, configHash: "abc"))
        let db = try schema.connect()
        for sql in [
            "UPDATE audit SET \"user\" = 'mallory'", "UPDATE audit SET reason = 'x' WHERE id < 0", "DELETE FROM audit",
            "DELETE FROM audit WHERE id < 0", "TRUNCATE audit",
        ] {
            let error = try #require(throws: PostgresError.self, "\(sql)") { try db.execute(sql) }
            #expect(error.message.contains("append-only"), "\(sql)")
            #expect(error.sqlState == "42501")
        }
        // The store's own error mapping leaves them errors: this is no outage.
        #expect(StorageUnavailable(classifying: PostgresError(kind: .query, sqlState: "42501", message: "append-only")) == nil)
        #expect(try store.auditRecords(AuditQuery()).map(\.user) == ["bob"])
        try db.execute(
            "INSERT INTO audit (at, event, decision, reason, config_hash) VALUES (1, 'reload', 'allow', 'by hand', '')")
        #expect(try store.auditRecords(AuditQuery()).count == 2)
    }
}
