import Foundation
import JobStore
import Postgres
import PostgresStore
import TestSupport
import Testing

/// The deployment docs/architecture.md recommends: the owner role opens the store once (and so
/// migrates it), Sluice runs as a role with `SELECT, INSERT, UPDATE` on jobs, tasks and hosts
/// (the shared store's leases), `DELETE` too on job_overviews (dropped by a retry), and only `SELECT, INSERT` on audit. Then the audit log is append-only by privilege, not only by
/// trigger: the runtime role can neither change a record nor drop the triggers.
@Suite(ServerTrait.enabled)
struct PostgresRoleSplitTests {
    static let job = NewJob(
        pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/",
        tasks: [TaskRecord(name: "t", needs: [], argv: ["/bin/true"], layer: 0)])

    @Test("A runtime role with the documented grants runs the store, and cannot change, delete or unguard audit records")
    func runtimeRole() throws {
        let runtime = try #require(
            ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_RUNTIME_USER"], "scripts/test creates the runtime role")
        let schema = try TestSchema()
        defer { schema.drop() }
        _ = try schema.store()  // the owner migrates
        let owner = try schema.connect()
        defer { owner.close() }
        let s = try PostgresIdentifier.quoted(schema.name)
        let r = try PostgresIdentifier.quoted(runtime)
        try owner.executeScript(
            """
            GRANT USAGE ON SCHEMA \(s) TO \(r);
            GRANT SELECT, INSERT, UPDATE ON \(s).jobs, \(s).tasks, \(s).hosts, \(s).task_logs TO \(r);
            GRANT SELECT, INSERT ON \(s).audit, \(s).shared_secrets TO \(r);
            GRANT SELECT, INSERT, UPDATE, DELETE ON \(s).job_overviews TO \(r);
            GRANT SELECT, INSERT, UPDATE ON \(s).schedule_marks, \(s).event_cursors TO \(r);
            GRANT SELECT, INSERT, DELETE ON \(s).job_events TO \(r);
            GRANT SELECT, INSERT, UPDATE, DELETE ON \(s).deliveries TO \(r);
            GRANT SELECT, INSERT ON \(s).approvals TO \(r);
            GRANT SELECT ON \(s).sluice_schema TO \(r);
            """)
        // libpq takes the last of a repeated keyword: the same database and schema, the other role.
        let asRuntime = schema.connection + " user=\(runtime)"
        let store = try PostgresJobStore(connection: asRuntime, password: TestPostgres.password, poolSize: 2)
        let audit = AuditRecord(
            at: Date(), event: "trigger", allowed: true, user: "bob", identitySource: "remote_user", pipeline: "etl", jobID: nil,
            reason: "granted", requestID: nil, clientAddress: nil, configHash: "abc")
        guard case .created(let job) = try store.submit(Self.job, rules: SubmissionRules(), audit: audit) else {
            Issue.record("the runtime role could not submit")
            return
        }
        // The shared store's calls need nothing more (row locks included: FOR SHARE and
        // FOR UPDATE need UPDATE, which the role has).
        let lease = try store.register(host: "h", leaseSeconds: 60)
        #expect(try store.renew(lease, leaseSeconds: 60))
        #expect(try store.claim(lease, ClaimRequest(limit: 1, concurrency: ["etl": 1])).jobs.map(\.id) == [job.id])
        #expect(try store.takeOver(lease).map(\.id) == [job.id])
        let listener = try store.makeListener()
        defer { listener.close() }
        #expect(
            try store.record(
                [JobUpdate(jobID: job.id, changes: [TaskChange(task: job.tasks[0].name, state: .running)], jobState: .running)],
                fencedBy: lease) == [])
        try store.recordProcesses([(job.id, job.tasks[0].name, 4242)], fencedBy: lease)
        #expect(try store.rescueExpired() == [:])
        #expect(try store.hosts().map(\.id) == ["h"])
        #expect(try store.requestCancel(jobID: job.id)?.cancelRequested == true)
        #expect(try listener.wait(timeout: .seconds(5)))
        // A finished job whose tasks have layers keeps its overview, and a retry drops it.
        #expect(
            try store.record(
                [JobUpdate(jobID: job.id, changes: [TaskChange(task: "t", state: .failed, exitCode: 1)], jobState: .failed)],
                fencedBy: lease) == [])
        #expect(try store.jobOverview(id: job.id)?.failedCount == 1)
        #expect(try store.retry(jobID: job.id) != nil)
        #expect(try store.jobOverview(id: job.id) == nil)
        let mark = ScheduleMark(name: "nightly", nextFireAt: Date(), fingerprint: "@daily|UTC")
        #expect(try store.moveScheduleMark(from: nil, to: mark))
        #expect(try store.scheduleMarks() == [mark])
        #expect(try store.jobEvents(after: 0, limit: 10).map(\.state) == [.running, .failed], "the start and the end were recorded")
        #expect(try store.advanceEventCursor("chains", to: nil) > 0)
        #expect(try store.pruneJobEvents(limit: 10) == 2)
        // Webhook deliveries: made, claimed, attempted, listed, redelivered, pruned.
        try store.enqueueDeliveries(
            [NewDelivery(eventID: 1, jobID: job.id, pipeline: "etl", webhook: "ops", event: "job.failed", body: "{}")],
            consumer: "notifications", through: 1)
        let claimed = try store.claimDueDeliveries(now: Date() + 1, limit: 5, claimUntil: Date() + 60)
        #expect(claimed.count == 1)
        #expect(
            try store.recordDeliveryAttempt(
                id: claimed[0].id, claimedUntil: nil, DeliveryAttempt(at: Date(), status: nil, error: "down", next: .failed)))
        #expect(try store.redeliver(id: claimed[0].id, at: Date(), audit: nil)?.state == .pending)
        try store.recordDeliveryAttempt(
            id: claimed[0].id, claimedUntil: nil, DeliveryAttempt(at: Date() - 100, status: 200, error: nil, next: .delivered))
        #expect(try store.pruneDeliveries(finishedBefore: Date(), limit: 10) == 1)
        #expect(try store.deliveries(DeliveryQuery()).isEmpty)
        // Approvals: a waiting job, a decision, and expiry, with the documented grants only.
        var waiting = Self.job
        waiting.approval = ApprovalRequirement(required: 2, expiresAt: Date() + 60)
        guard case .created(let awaiting) = try store.submit(waiting, rules: SubmissionRules(), audit: nil) else {
            Issue.record("the runtime role could not submit a job awaiting approval")
            return
        }
        let decision = ApprovalDecision(approver: "kim", identitySource: "remote_user", approves: true, comment: "", at: Date())
        guard case .recorded(let decided) = try store.decideApproval(jobID: awaiting.id, decision, audit: nil) else {
            Issue.record("the runtime role could not record an approval")
            return
        }
        #expect(decided.approvals.count == 1)
        let expiry = AuditRecord(
            at: Date(), event: "expire", allowed: false, user: nil, identitySource: nil, pipeline: nil, jobID: nil,
            reason: "granted", requestID: nil, clientAddress: nil, configHash: "abc")
        #expect(try store.expireApprovals(now: Date() + 120, audit: expiry).map(\.id) == [awaiting.id])
        #expect(try store.auditRecords(AuditQuery()).count == 2, "the trigger and the expiry")
        // Stored logs and the shared secret, with the documented grants only.
        try store.storeLog(jobID: job.id, task: job.tasks[0].name, attempt: 1, bytes: Array("log\n".utf8))
        #expect(try store.storedLog(jobID: job.id, task: job.tasks[0].name, attempt: 1) == Array("log\n".utf8))
        let secret = try store.sharedSecret(named: "csrf", generate: { [1, 2, 3] })
        #expect(try store.sharedSecret(named: "csrf", generate: { [9] }) == secret)

        let db = try PostgresConnection(asRuntime, password: TestPostgres.password)
        defer { db.close() }
        for sql in [
            "UPDATE audit SET reason = 'x'", "DELETE FROM audit", "TRUNCATE audit", "DROP TRIGGER IF EXISTS audit_no_update ON audit",
            "ALTER TABLE audit DISABLE TRIGGER ALL", "DROP TABLE audit",
        ] {
            let error = try #require(throws: PostgresError.self, "\(sql)") { try db.execute(sql) }
            #expect(error.sqlState == "42501", "\(sql): \(error)")
        }
        #expect(try store.auditRecords(AuditQuery()).map(\.reason) == ["granted", "granted"])
    }
}
