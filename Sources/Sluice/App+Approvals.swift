import Foundation
import HTTP
import JSON
import JobStore
import Pages
import Policy

extension App {
    /// The largest body `POST /api/v1/jobs/{id}/approve` and `/reject` read; a larger one is a 413.
    static let maxDecisionBodyBytes = 8192

    /// `POST /api/v1/jobs/{id}/approve`: one approval of a job awaiting approval (body optional:
    /// `{"comment": "..."}`); 200 + the job (still `awaiting_approval`, or `queued` with the last
    /// approval needed). 403 for the person who triggered it, 409 for a job that does not wait or
    /// a second decision by the same person.
    func approve(_ context: RequestContext) throws -> HTTPResponse { try self.decideByAPI(context, approves: true) }

    /// `POST /api/v1/jobs/{id}/reject`: rejects a job awaiting approval (it ends `rejected`);
    /// otherwise as `approve`.
    func reject(_ context: RequestContext) throws -> HTTPResponse { try self.decideByAPI(context, approves: false) }

    private func decideByAPI(_ context: RequestContext, approves: Bool) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .approve)
        try Self.requireJSONIfAmbient(context)
        let comment = try Self.decisionComment(context.request)
        let decided = try self.decide(context, job, approves: approves, comment: comment)
        return .json(JobJSON.bytes(decided, mountPath: context.mountPath, includeTasks: true))
    }

    /// `POST /jobs/{id}/approve` and `/reject` (the job page's form): 303 back to the job.
    func approveForm(_ context: RequestContext) throws -> HTTPResponse { try self.decideByForm(context, approves: true) }

    /// See `approveForm`.
    func rejectForm(_ context: RequestContext) throws -> HTTPResponse { try self.decideByForm(context, approves: false) }

    private func decideByForm(_ context: RequestContext, approves: Bool) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .approve)
        let form = try self.verifiedForm(context, action: "decide:\(job.id)")
        _ = try self.decide(context, job, approves: approves, comment: try Self.checkedComment(form["comment"] ?? ""))
        return .redirect(to: "\(context.mountPath)/jobs/\(job.id)")
    }

    /// Records the caller's decision about `job` (authorized for `approve` on its pipeline and
    /// parameters): refuses the person who triggered it (four eyes, compared as bytes) an
    /// approval, then hands the decision to the store with its audit record.
    func decide(_ context: RequestContext, _ job: JobRecord, approves: Bool, comment: String) throws -> JobRecord {
        let event = approves ? "approve" : "reject"
        if approves && job.triggeredBy.utf8.elementsEqual(context.caller.user.utf8) {
            self.audit(context, event: event, allowed: false, pipeline: job.pipeline, jobID: job.id, reason: "triggered the job itself")
            throw HTTPError(.forbidden, "you triggered this job: someone else must approve it")
        }
        guard job.state == .awaitingApproval else {
            throw HTTPError(.conflict, "job \(job.id) does not await approval; it is \(job.state.rawValue)")
        }
        let decision = ApprovalDecision(
            approver: context.caller.user, identitySource: context.caller.source.rawValue, approves: approves, comment: comment, at: Date())
        var reason = self.grantReason(context, .approve, job.pipeline, parameters: job.params)
        if !comment.isEmpty { reason += "; comment: \(comment)" }
        let record = self.auditRecord(context, event: event, allowed: true, pipeline: job.pipeline, jobID: job.id, reason: reason)
        switch try self.writeGate.run({ try self.store.decideApproval(jobID: job.id, decision, audit: record) }) {
        case .recorded(let updated):
            if updated.state == .queued { self.runner?.wake() }
            if updated.state.isTerminal { self.runner?.forgetSecrets(of: job.id) }
            self.changes.notify(job.id)
            self.logger.info(
                approves ? "job approved" : "job rejected",
                ["request.id": context.requestID, "job.id": "\(job.id)", "user": context.caller.user, "state": updated.state.rawValue])
            return updated
        case .alreadyDecided:
            throw HTTPError(.conflict, "you have already decided about job \(job.id)")
        case .notAwaiting(let current):
            throw HTTPError(.conflict, "job \(job.id) does not await approval; it is \(current.state.rawValue)")
        case .notFound:
            throw HTTPError(.notFound, "not found")
        }
    }

    /// Reads the optional body `{"comment": "..."}` of an approval or rejection.
    static func decisionComment(_ request: HTTPRequest) throws -> String {
        switch try Self.optionalMember(
            "comment", of: request, maxBytes: Self.maxDecisionBodyBytes, example: #"{"comment": "looks right"}"#)
        {
        case nil: return ""
        case .string(let text)?: return try Self.checkedComment(text)
        case let other?: throw HTTPError(.badRequest, "invalid body", fieldErrors: ["comment": "must be a string, found \(other.typeName)"])
        }
    }

    /// `text` as a comment: at most `ApprovalDecision.maxCommentBytes` bytes, no control
    /// characters but line breaks and tabs, surrounding white space removed.
    static func checkedComment(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count <= ApprovalDecision.maxCommentBytes else {
            throw HTTPError(
                .badRequest, "invalid comment", fieldErrors: ["comment": "at most \(ApprovalDecision.maxCommentBytes) bytes"])
        }
        let allowed: Set<Unicode.Scalar> = ["\n", "\r", "\t"]
        guard !trimmed.unicodeScalars.contains(where: { ($0.value < 0x20 || (0x7f..<0xa0).contains($0.value)) && !allowed.contains($0) })
        else {
            throw HTTPError(.badRequest, "invalid comment", fieldErrors: ["comment": "must not hold control characters"])
        }
        return trimmed
    }

    /// The job page's approval section for a job whose pipeline required approval: the form
    /// when the caller may decide (holds `approve` with the job's parameters, did not trigger
    /// it, has not decided yet).
    func approvalPanel(_ context: RequestContext, _ job: JobRecord) -> ApprovalPanel? {
        guard let approval = job.approval else { return nil }
        let waiting = job.state == .awaitingApproval
        var token: String? = nil
        var note: String? = nil
        if waiting && self.may(context, .approve, job.pipeline, parameters: job.params) {
            if job.approvals.contains(where: { $0.approver.utf8.elementsEqual(context.caller.user.utf8) }) {
                note = "You have decided about this job."
            } else {
                token = self.csrf.token(for: context.caller, action: "decide:\(job.id)")
                if job.triggeredBy.utf8.elementsEqual(context.caller.user.utf8) {
                    note = "You triggered this job: you may reject it, but someone else must approve it."
                }
            }
        }
        return ApprovalPanel(
            required: approval.required,
            decisions: job.approvals.map {
                ApprovalPanel.Decision(approver: $0.approver, approves: $0.approves, comment: $0.comment, at: Self.time($0.at))
            }, expires: Self.time(approval.expiresAt), isWaiting: waiting, token: token, note: note)
    }
}
