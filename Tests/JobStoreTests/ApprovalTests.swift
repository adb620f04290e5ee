import Foundation
import JobStore
import TestSupport
import Testing

/// Jobs awaiting approval, against every store: created waiting (with an event, outside the
/// runner's queue), approved by distinct people into the queue, rejected or expired with their
/// tasks cancelled, cancelled while waiting; one decision per person, compared as bytes.
@Suite struct ApprovalTests {
    static func waiting(required: Int = 2, expiresAt: Date = Fixtures.epoch + 3600) -> NewJob {
        var job = Fixtures.job()
        job.approval = ApprovalRequirement(required: required, expiresAt: expiresAt)
        return job
    }

    static func decision(_ who: String, approves: Bool = true, comment: String = "", at: Date = Fixtures.epoch) -> ApprovalDecision {
        ApprovalDecision(approver: who, identitySource: "remote_user", approves: approves, comment: comment, at: at)
    }

    static func audit(_ event: String) -> AuditRecord {
        AuditRecord(
            at: Fixtures.epoch, event: event, allowed: true, user: "x", identitySource: "remote_user", pipeline: "etl", jobID: nil,
            reason: "r", requestID: nil, clientAddress: nil, configHash: "abc")
    }

    @Test("A job that needs approval is created waiting, with an event, and is not the runner's", arguments: StoreKind.allCases)
    func created(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let job = try Fixtures.created(try store.submit(Self.waiting(), rules: SubmissionRules()))
        #expect(job.state == .awaitingApproval)
        #expect(job.approval == ApprovalRequirement(required: 2, expiresAt: Fixtures.epoch + 3600))
        let read = try #require(try store.job(id: job.id))
        #expect(read.state == .awaitingApproval && read.approval == job.approval && read.approvals.isEmpty)
        #expect(try store.jobs(JobQuery(limit: 5)).first?.approval == job.approval)
        #expect(try store.unfinishedJobs().isEmpty, "the runner does not see it")
        #expect(try store.jobEvents(after: 0, limit: 10).map(\.state) == [.awaitingApproval])
        // It is a duplicate for on_duplicate...
        var again = Self.waiting()
        again.identity = job.identity
        let second = try store.submit(again, rules: SubmissionRules(onDuplicate: .returnExisting))
        guard case .existing(let existing, _) = second else {
            Issue.record("a waiting job is not a duplicate: \(second)")
            return
        }
        #expect(existing.id == job.id)
        // ...but holds no queue place: a pipeline allowing no unfinished job still takes another.
        var other = Fixtures.job()
        other.identity = "another"
        _ = try Fixtures.created(try store.submit(other, rules: SubmissionRules(onDuplicate: .allow, maxUnfinished: 1)))
    }

    @Test(
        "Approvals by distinct people queue the job with the last one needed; one decision per person (bytes)",
        arguments: StoreKind.allCases)
    func approve(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let job = try Fixtures.created(try store.submit(Self.waiting(), rules: SubmissionRules()))
        guard
            case .recorded(let first) = try store.decideApproval(
                jobID: job.id, Self.decision("Kim", comment: "looks right"), audit: Self.audit("approve"))
        else {
            Issue.record("first approval not recorded")
            return
        }
        #expect(first.state == .awaitingApproval && first.approvals.map(\.approver) == ["Kim"])
        #expect(first.approvals.first?.comment == "looks right")
        guard case .alreadyDecided = try store.decideApproval(jobID: job.id, Self.decision("Kim"), audit: nil) else {
            Issue.record("the same person approved twice")
            return
        }
        // U+212A KELVIN SIGN is another person's name, not "Kim" again.
        guard case .recorded(let second) = try store.decideApproval(jobID: job.id, Self.decision("\u{212A}im"), audit: nil) else {
            Issue.record("second approval not recorded")
            return
        }
        #expect(second.state == .queued, "two approvals: queued for the runner")
        #expect(second.approvals.count == 2)
        #expect(try store.unfinishedJobs().map(\.id) == [job.id])
        guard case .notAwaiting = try store.decideApproval(jobID: job.id, Self.decision("Lee"), audit: nil) else {
            Issue.record("a queued job took another decision")
            return
        }
        guard case .notFound = try store.decideApproval(jobID: 9999, Self.decision("Lee"), audit: nil) else {
            Issue.record("a missing job took a decision")
            return
        }
        let audits = try store.auditRecords(AuditQuery())
        #expect(audits.map(\.event) == ["approve"] && audits.first?.jobID == job.id)
    }

    @Test("A rejection ends the job rejected with its tasks cancelled and an event", arguments: StoreKind.allCases)
    func reject(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let job = try Fixtures.created(try store.submit(Self.waiting(), rules: SubmissionRules()))
        _ = try store.decideApproval(jobID: job.id, Self.decision("kim"), audit: nil)
        guard
            case .recorded(let rejected) = try store.decideApproval(
                jobID: job.id, Self.decision("lee", approves: false, comment: "not today", at: Fixtures.epoch + 5), audit: nil)
        else {
            Issue.record("rejection not recorded")
            return
        }
        #expect(rejected.state == .rejected && rejected.finishedAt == Fixtures.epoch + 5)
        #expect(rejected.tasks.allSatisfy { $0.state == .cancelled && $0.message == "not run: rejected by lee" })
        #expect(rejected.approvals.map(\.approves) == [true, false])
        #expect(try store.jobEvents(after: 0, limit: 10).map(\.state) == [.awaitingApproval, .rejected])
        #expect(try store.retry(jobID: job.id, audit: nil) == nil, "a rejected job is not retried")
    }

    @Test("A job cancelled while it waited is never retried: it would run unapproved", arguments: StoreKind.allCases)
    func noRetryWithoutApproval(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let job = try Fixtures.created(try store.submit(Self.waiting(), rules: SubmissionRules()))
        _ = try store.decideApproval(jobID: job.id, Self.decision("kim"), audit: nil)
        #expect(try store.requestCancel(jobID: job.id, audit: nil)?.state == .cancelled)
        #expect(try store.retry(jobID: job.id, audit: nil) == nil, "one approval of two")
        #expect(try store.job(id: job.id)?.state == .cancelled)
        #expect(try store.unfinishedJobs().isEmpty)
        // A job that got its approvals and was cancelled while queued may be retried as any other.
        let approved = try Fixtures.created(try store.submit(Self.waiting(required: 1), rules: SubmissionRules()))
        _ = try store.decideApproval(jobID: approved.id, Self.decision("kim"), audit: nil)
        try store.record(
            jobID: approved.id, changes: approved.tasks.map { TaskChange(task: $0.name, state: .cancelled) }, jobState: .cancelled)
        #expect(try store.retry(jobID: approved.id, audit: nil)?.state == .queued)
    }

    @Test("A decision after the deadline finds the job expired, audited as an expiry", arguments: StoreKind.allCases)
    func lateDecision(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let job = try Fixtures.created(
            try store.submit(Self.waiting(required: 1, expiresAt: Fixtures.epoch + 10), rules: SubmissionRules()))
        guard
            case .notAwaiting(let after) = try store.decideApproval(
                jobID: job.id, Self.decision("kim", at: Fixtures.epoch + 10), audit: Self.audit("approve"))
        else {
            Issue.record("a late approval was recorded")
            return
        }
        #expect(after.state == .expired && after.approvals.isEmpty)
        let audits = try store.auditRecords(AuditQuery())
        #expect(audits.map(\.event) == ["expire"] && audits.first?.user == nil && audits.first?.jobID == job.id)
        #expect(try store.unfinishedJobs().isEmpty)
    }

    @Test("Expiry ends only jobs past their time, each audited; cancelling a waiting job ends it at once", arguments: StoreKind.allCases)
    func expireAndCancel(_ kind: StoreKind) throws {
        let h = try kind.make(clock: TestClock(Fixtures.epoch))
        defer { h.tearDown() }
        let store = h.store
        let soon = try Fixtures.created(try store.submit(Self.waiting(expiresAt: Fixtures.epoch + 10), rules: SubmissionRules()))
        let later = try Fixtures.created(try store.submit(Self.waiting(expiresAt: Fixtures.epoch + 100), rules: SubmissionRules()))
        let other = try Fixtures.created(try store.submit(Self.waiting(expiresAt: Fixtures.epoch + 100), rules: SubmissionRules()))
        #expect(try store.expireApprovals(now: Fixtures.epoch + 9, audit: Self.audit("expire")).isEmpty)
        let expired = try store.expireApprovals(now: Fixtures.epoch + 10, audit: Self.audit("expire"))
        #expect(expired.map(\.id) == [soon.id])
        #expect(expired.first?.state == .expired && expired.first?.tasks.allSatisfy { $0.message == ApprovalEnd.expired } == true)
        let audits = try store.auditRecords(AuditQuery())
        #expect(audits.map(\.event) == ["expire"] && audits.first?.jobID == soon.id)
        let cancelled = try store.requestCancel(jobID: later.id, audit: Self.audit("cancel"))
        #expect(cancelled?.state == .cancelled && cancelled?.tasks.allSatisfy { $0.state == .cancelled } == true)
        #expect(cancelled?.cancelRequested == true)
        #expect(try store.expireApprovals(now: Fixtures.epoch + 200, audit: Self.audit("expire")).map(\.id) == [other.id])
        #expect(
            try store.jobEvents(after: 0, limit: 20).filter { $0.state.isTerminal }.map(\.state) == [.expired, .cancelled, .expired])
    }
}
