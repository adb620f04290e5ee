import Foundation
import HTTP
import JobStore
import SQLite
import Testing

@testable import Sluice

extension AppTests {
    @Test("A trigger, cancel or retry whose audit record cannot be written does not happen and is not acknowledged")
    func auditFailureStopsTheAction() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let failed = try h.createJob()
        try h.finish(failed, as: .failed, jobState: .failed)
        let queued = try h.createJob(params: ["date": "2024-05-02"])
        let connection = try Connection(path: h.directory.file("jobs.db"))
        try connection.execute("CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no room'); END;")

        let trigger = h.trigger(#"{"params": {"date": "2024-06-01"}}"#)
        #expect(trigger.status.code >= 500)
        #expect(trigger.header("Location") == nil)
        #expect(try h.store.jobs(JobQuery()).count == 2)

        let cancel = h.send("POST", "/api/v1/jobs/\(queued.id)/cancel", user: "bob", body: "{}", contentType: "application/json")
        #expect(cancel.status.code >= 500)
        #expect(try h.store.job(id: queued.id)?.cancelRequested == false)

        let retry = h.send("POST", "/api/v1/jobs/\(failed.id)/retry", user: "bob", body: "{}", contentType: "application/json")
        #expect(retry.status.code >= 500)
        #expect(try h.store.job(id: failed.id)?.state == .failed)

        // Once records can be written again, the same trigger is acknowledged with its record.
        try connection.execute("DROP TRIGGER audit_broken;")
        let again = h.trigger(#"{"params": {"date": "2024-06-01"}}"#)
        #expect(again.status.code == 202)
        let id = try #require(try AppHarness.json(again)["id"] as? Int)
        let records = try h.store.auditRecords(AuditQuery(event: "trigger"))
        #expect(records.contains { $0.jobID == Int64(id) && $0.allowed })
    }
}
