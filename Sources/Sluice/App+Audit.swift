import ByteStrings
import Foundation
import HTTP
import Identity
import JobStore
import Pages
import Policy

extension App {
    /// Appends an audit record about this request. A failure to write is logged, not raised: the
    /// decision has been made; the log line keeps the evidence.
    func audit(
        principal: Principal?, request: HTTPRequest, requestID: String, event: String, allowed: Bool, pipeline: String? = nil,
        jobID: Int64? = nil, reason: String, configHash: String
    ) {
        let record = AuditRecord(
            at: Date(), event: event, allowed: allowed, user: principal?.user, identitySource: principal?.source.rawValue,
            pipeline: pipeline, jobID: jobID, reason: reason, requestID: requestID, clientAddress: request.params["REMOTE_ADDR"],
            configHash: configHash)
        do { try self.store.appendAudit(record) } catch {
            self.logger.error("cannot write audit record", ["request.id": requestID, "event": event, "error": "\(error)"])
        }
    }

    /// The audit record of a decision about a routed request, for a store call that commits it
    /// together with the action.
    func auditRecord(
        _ context: RequestContext, event: String, allowed: Bool, pipeline: String? = nil, jobID: Int64? = nil, reason: String
    ) -> AuditRecord {
        AuditRecord(
            at: Date(), event: event, allowed: allowed, user: context.caller.user, identitySource: context.caller.source.rawValue,
            pipeline: pipeline, jobID: jobID, reason: reason, requestID: context.requestID,
            clientAddress: context.request.params["REMOTE_ADDR"], configHash: context.configuration.hash)
    }

    /// Appends an audit record about a routed request.
    func audit(_ context: RequestContext, event: String, allowed: Bool, pipeline: String? = nil, jobID: Int64? = nil, reason: String) {
        self.audit(
            principal: context.caller, request: context.request, requestID: context.requestID, event: event, allowed: allowed,
            pipeline: pipeline, jobID: jobID, reason: reason, configHash: context.configuration.hash)
    }

    /// The rule that allowed `verb`, as `roles.<role>.grants[<i>]`, for audit reasons.
    func grantReason(_ context: RequestContext, _ verb: Verb, _ pipeline: String, parameters: [String: String]? = nil) -> String {
        if case .allow(let role, let index) = context.snapshot.policy.decide(
            context.subject, verb, pipeline: pipeline, parameters: parameters)
        {
            return "roles.\(role).grants[\(index)]"
        }
        return "allowed"
    }

    /// The audit query the caller may run: records of pipelines its `audit` grants cover, and
    /// unscoped records (authentication failures, reloads) only with `audit` granted on `*`.
    func auditScope(_ context: RequestContext) throws -> AuditQuery {
        let pipelines = Set(context.auditablePipelines)
        let everything = context.mayAuditEverything
        guard everything || !pipelines.isEmpty else { throw HTTPError(.forbidden, "you may not read the audit log") }
        // An empty value is no filter: what the page's form sends for a field left blank.
        let query = context.query.filter { !$0.value.isEmpty }
        var scope = AuditQuery(pipelines: everything ? nil : pipelines, includeUnscoped: everything)
        if let only = query["pipeline"] {
            // Compared as bytes: the scope is what SQL filters on, byte for byte.
            guard everything || pipelines.firstByteEqual(only) != nil else {
                throw HTTPError(.forbidden, "you may not read the audit log of \(only)")
            }
            scope.pipelines = [only]
            scope.includeUnscoped = false
        }
        scope.user = query["user"]
        scope.event = query["event"]
        switch query["decision"] {
        case nil: break
        case "allow": scope.allowed = true
        case "deny": scope.allowed = false
        default: throw HTTPError(.badRequest, "decision must be allow or deny")
        }
        if let text = query["before"] {
            guard let value = Int64(text), value > 0 else { throw HTTPError(.badRequest, "before must be a positive record id") }
            scope.beforeID = value
        }
        if let text = query["limit"] {
            guard let value = Int(text), (1...1000).contains(value) else { throw HTTPError(.badRequest, "limit must be from 1 to 1000") }
            scope.limit = value
        }
        return scope
    }

    /// `GET /api/v1/audit`: records, newest first; filters `pipeline`, `user`, `event`,
    /// `decision` (allow/deny), `before` (cursor), `limit`.
    func auditLog(_ context: RequestContext) throws -> HTTPResponse {
        let scope = try self.auditScope(context)
        let records = try self.store.auditRecords(scope)
        return .json(
            JobJSON.encode(
                AuditJSON.List(records: records.map(AuditJSON.init), next_before: records.count == scope.limit ? records.last?.id : nil)))
    }

    /// `GET /audit`: the same as a page.
    func auditPage(_ context: RequestContext) throws -> HTTPResponse {
        let scope = try self.auditScope(context)
        let records = try self.store.auditRecords(scope)
        let rows = records.map {
            AuditRow(
                id: $0.id, at: Self.time($0.at), event: $0.event, decision: $0.allowed ? "allow" : "deny", user: $0.user ?? "",
                source: $0.identitySource ?? "", pipeline: $0.pipeline ?? "", jobID: $0.jobID, reason: $0.reason,
                client: $0.clientAddress ?? "", configHash: String($0.configHash.prefix(12)))
        }
        let query = context.query
        let names = ["pipeline", "user", "event", "decision", "limit"]
        let filters = names.compactMap { name in query[name].flatMap { $0.isEmpty ? nil : (name, $0) } }
        var older: String? = nil
        if records.count == scope.limit, let last = records.last {
            older = (filters + [("before", String(last.id))]).map { "\(FormEncoder.encode($0.0))=\(FormEncoder.encode($0.1))" }.joined(
                separator: "&")
        }
        return .html(
            Pages.audit(
                context.layout, rows, filters: Dictionary(filters, uniquingKeysWith: { a, _ in a }),
                pipelines: Array(context.auditablePipelines),
                olderQuery: older))
    }
}

/// The JSON shape of an audit record (also `sluice audit export`, one per line).
struct AuditJSON: Encodable {
    struct List: Encodable {
        var records: [AuditJSON]
        var next_before: Int64?
    }

    var id: Int64
    var at: String
    var event: String
    var decision: String
    var user: String?
    var identity_source: String?
    var pipeline: String?
    var job_id: Int64?
    var reason: String
    var request_id: String?
    var client_address: String?
    var config_hash: String

    init(_ r: AuditRecord) {
        self.id = r.id
        self.at = JobJSON.time(r.at)
        self.event = r.event
        self.decision = r.allowed ? "allow" : "deny"
        self.user = r.user
        self.identity_source = r.identitySource
        self.pipeline = r.pipeline
        self.job_id = r.jobID
        self.reason = r.reason
        self.request_id = r.requestID
        self.client_address = r.clientAddress
        self.config_hash = r.configHash
    }
}
