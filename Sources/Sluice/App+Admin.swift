import ByteStrings
import Foundation
import HTTP
import JSON
import Policy

extension App {
    /// The largest body `POST /api/v1/admin/drain` reads (`{"exit_when_drained": true}` needs 27
    /// bytes); a larger one is a 413 before it is parsed.
    static let maxDrainBodyBytes = 1024

    /// Checks that the caller holds `admin`, the verb about the Sluice instance; 403 (and an
    /// audit record of the denial under `event`) otherwise.
    /// - Returns: the granting rule, `roles.<role>.grants[<i>]`, for the audit record.
    func authorizeAdmin(_ context: RequestContext, event: String) throws -> String {
        switch context.snapshot.policy.decideOnInstance(context.subject, .admin) {
        case .allow(let role, let index):
            return "roles.\(role).grants[\(index)]"
        case .deny(let reason):
            self.audit(context, event: event, allowed: false, reason: reason)
            self.logger.info(
                "denied", ["request.id": context.requestID, "user": context.subject.user, "verb": Verb.admin.rawValue, "reason": reason])
            throw HTTPError(.forbidden, "you may not administer this Sluice (it needs the admin verb)")
        }
    }

    /// The drain switch, once the caller is known to hold `admin` (503 in a process without a
    /// job runner, which only tests build).
    private func drainControl() throws -> DrainControl {
        guard let drain = self.drain else { throw HTTPError(.serviceUnavailable, "this process has no job runner to drain") }
        return drain
    }

    /// `GET /api/v1/admin/drain`: whether Sluice drains, what still runs, whether it exits once
    /// drained.
    func drainStatus(_ context: RequestContext) throws -> HTTPResponse {
        _ = try self.authorizeAdmin(context, event: "drain_status")
        return .json(Self.drainDocument(try self.drainControl().status))
    }

    /// `POST /api/v1/admin/drain` with an optional body `{"exit_when_drained": bool}`: starts
    /// draining (again: nothing changes); `true` plans the exit once nothing runs, `false`
    /// cancels a planned one, absent leaves the plan as it is. Audited as `drain`.
    func startDrain(_ context: RequestContext) throws -> HTTPResponse {
        let grant = try self.authorizeAdmin(context, event: "drain")
        try Self.requireJSONIfAmbient(context)
        let exit = try Self.drainOptions(context.request)
        let drain = try self.drainControl()
        if drain.isExiting && exit == false { throw HTTPError(.conflict, DrainRefusal.stopping.message) }
        var reason = grant
        if let exit { reason += exit ? "; exit_when_drained" : "; exit cancelled" }
        try self.recordAdminChange(context, event: "drain", reason: reason)
        do {
            return .json(Self.drainDocument(try drain.drain(exitWhenDrained: exit, by: context.caller.user)))
        } catch {
            throw HTTPError(.conflict, error.message)
        }
    }

    /// `DELETE /api/v1/admin/drain`: ends draining (queued jobs start) and cancels a planned
    /// exit; 409 once Sluice has drained with an exit planned and is stopping. Audited as
    /// `resume`.
    func endDrain(_ context: RequestContext) throws -> HTTPResponse {
        let grant = try self.authorizeAdmin(context, event: "resume")
        let drain = try self.drainControl()
        if drain.isExiting { throw HTTPError(.conflict, DrainRefusal.stopping.message) }
        try self.recordAdminChange(context, event: "resume", reason: grant)
        do {
            return .json(Self.drainDocument(try drain.resume(by: context.caller.user)))
        } catch {
            throw HTTPError(.conflict, error.message)
        }
    }

    /// Commits the audit record of an allowed change to the instance before it is made: if the
    /// record cannot be written (503/507), the change does not happen, as for triggers.
    private func recordAdminChange(_ context: RequestContext, event: String, reason: String) throws {
        let record = self.auditRecord(context, event: event, allowed: true, reason: reason)
        try self.writeGate.run { try self.store.appendAudit(record) }
    }

    /// Reads the optional body of `POST /api/v1/admin/drain`: empty, or a JSON object whose only
    /// member is `exit_when_drained`, a boolean.
    static func drainOptions(_ request: HTTPRequest) throws -> Bool? {
        switch try Self.optionalMember(
            "exit_when_drained", of: request, maxBytes: Self.maxDrainBodyBytes, example: #"{"exit_when_drained": true}"#)
        {
        case nil: return nil
        case .bool(let value)?: return value
        case let other?:
            throw HTTPError(
                .badRequest, "invalid body", fieldErrors: ["exit_when_drained": "must be true or false, found \(other.typeName)"])
        }
    }

    /// The drain document: `{"draining", "active_jobs", "running_tasks", "exit_when_drained"}`.
    static func drainDocument(_ status: DrainControl.Status) -> [UInt8] {
        Array(
            ("{\"draining\":\(status.draining),\"active_jobs\":\(status.activeJobs),\"running_tasks\":\(status.runningTasks),"
                + "\"exit_when_drained\":\(status.exitWhenDrained)}\n").utf8)
    }
}
