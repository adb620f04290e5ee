import Foundation
import HTTP
import JSON
import JobStore
import Pages

extension App {
    /// `GET /api/v1/admin/deliveries`: the webhook deliveries, newest first, for admins.
    /// Filters: `state` (pending, delivered, failed), `pipeline` (as bytes), `job`; paging with
    /// `before` (a delivery id) and `limit` (1–500, default 50). The bodies are not included.
    func listDeliveries(_ context: RequestContext) throws -> HTTPResponse {
        _ = try self.authorizeAdmin(context, event: "deliveries")
        let query = try Self.deliveryQuery(context.query)
        let found = try self.store.deliveries(query)
        let next = found.count == query.clampedLimit ? found.last?.id : nil
        var w = JSONWriter(capacity: 128 + found.count * 320)
        w.object { w in
            w.key("deliveries")
            w.array { w in for delivery in found { Self.write(delivery, into: &w) } }
            if let next {
                w.key("next_before")
                w.int(next)
            }
        }
        return .json(w.bytes + [0x0a])
    }

    /// `POST /api/v1/admin/deliveries/{id}/redeliver`: makes a failed (or pending) delivery due
    /// now, for one more attempt (another `max_attempts` series is not started: a failed one
    /// gives up again after this attempt fails). 404 for no such delivery, 409 for a delivered
    /// one. Audited as `redeliver`.
    func redeliver(_ context: RequestContext) throws -> HTTPResponse {
        let grant = try self.authorizeAdmin(context, event: "redeliver")
        try Self.requireJSONIfAmbient(context)
        guard let id = Int64(context.parameter("id")), id > 0 else { throw HTTPError(.notFound, "no such delivery") }
        let record = self.auditRecord(context, event: "redeliver", allowed: true, reason: "\(grant); delivery \(id)")
        guard let delivery = try self.writeGate.run({ try self.store.redeliver(id: id, at: Date(), audit: record) }) else {
            throw HTTPError(.notFound, "no such delivery")
        }
        guard delivery.state != .delivered else { throw HTTPError(.conflict, "delivery \(id) was delivered already") }
        var w = JSONWriter(capacity: 320)
        Self.write(delivery, into: &w)
        return .json(w.bytes + [0x0a], status: .accepted)
    }

    /// `GET /admin/deliveries`: the same list as a page, for admins, with a "Deliver again"
    /// button on failed and pending deliveries.
    func deliveriesPage(_ context: RequestContext) throws -> HTTPResponse {
        _ = try self.authorizeAdmin(context, event: "deliveries")
        let query = try Self.deliveryQuery(context.query)
        let found = try self.store.deliveries(query)
        let rows = found.map { d in
            DeliveryRow(
                id: d.id, jobID: d.jobID, pipeline: d.pipeline, webhook: d.webhook, event: d.event, state: d.state.rawValue,
                attempts: d.attempts, created: Self.time(d.createdAt), lastAttempt: d.lastAttemptAt.map(Self.time) ?? "—",
                lastStatus: d.lastStatus, lastError: d.lastError ?? "", next: d.state == .pending ? Self.time(d.nextAttemptAt) : "",
                redeliverToken: d.state == .delivered ? nil : self.csrf.token(for: context.caller, action: "redeliver:\(d.id)"))
        }
        var older: String? = nil
        if found.count == query.clampedLimit, let last = found.last {
            let kept = ["state", "pipeline", "job", "limit"].compactMap { name in context.query[name].map { (name, $0) } }
            older = (kept + [("before", String(last.id))]).map { "\(FormEncoder.encode($0.0))=\(FormEncoder.encode($0.1))" }
                .joined(separator: "&")
        }
        return .html(Pages.deliveries(context.layout, rows, state: query.state?.rawValue, olderQuery: older))
    }

    /// `POST /admin/deliveries/{id}/redeliver` (the page's button): as the API, then 303 back.
    func redeliverForm(_ context: RequestContext) throws -> HTTPResponse {
        let grant = try self.authorizeAdmin(context, event: "redeliver")
        guard let id = Int64(context.parameter("id")), id > 0 else { throw HTTPError(.notFound, "no such delivery") }
        _ = try self.verifiedForm(context, action: "redeliver:\(id)")
        let record = self.auditRecord(context, event: "redeliver", allowed: true, reason: "\(grant); delivery \(id)")
        guard try self.writeGate.run({ try self.store.redeliver(id: id, at: Date(), audit: record) }) != nil else {
            throw HTTPError(.notFound, "no such delivery")
        }
        return .redirect(to: "\(context.mountPath)/admin/deliveries")
    }

    /// Reads the filters of the delivery list; unknown values are 400s.
    static func deliveryQuery(_ raw: [String: String]) throws -> DeliveryQuery {
        let known = ["state", "pipeline", "job", "before", "limit"]
        if let unknown = raw.keys.sorted().first(where: { key in !known.contains { $0.utf8.elementsEqual(key.utf8) } }) {
            throw HTTPError(.badRequest, "unknown query parameter \"\(unknown)\" (known: \(known.joined(separator: ", ")))")
        }
        // An empty value is no filter: what a form sends for a field left blank.
        let query = raw.filter { !$0.value.isEmpty }
        var result = DeliveryQuery()
        if let text = query["state"] {
            guard let state = DeliveryState.allCases.first(where: { $0.rawValue.utf8.elementsEqual(text.utf8) }) else {
                throw HTTPError(.badRequest, "state must be pending, delivered or failed")
            }
            result.state = state
        }
        result.pipeline = query["pipeline"]
        if let text = query["job"] {
            guard let job = Int64(text), job > 0 else { throw HTTPError(.badRequest, "job must be a positive job id") }
            result.jobID = job
        }
        if let text = query["before"] {
            guard let before = Int64(text), before > 0 else { throw HTTPError(.badRequest, "before must be a positive delivery id") }
            result.beforeID = before
        }
        if let text = query["limit"] {
            guard let limit = Int(text), (1...500).contains(limit) else { throw HTTPError(.badRequest, "limit must be between 1 and 500") }
            result.limit = limit
        }
        return result
    }

    /// A delivery as the admin API shows it (no body).
    static func write(_ d: Delivery, into w: inout JSONWriter) {
        w.object { w in
            w.key("attempts")
            w.int(d.attempts)
            w.key("created_at")
            w.string(JobJSON.time(d.createdAt))
            w.key("event")
            w.string(d.event)
            w.key("event_id")
            w.int(d.eventID)
            w.key("id")
            w.int(d.id)
            w.key("job_id")
            w.int(d.jobID)
            if let at = d.lastAttemptAt {
                w.key("last_attempt_at")
                w.string(JobJSON.time(at))
            }
            if let error = d.lastError {
                w.key("last_error")
                w.string(error)
            }
            if let status = d.lastStatus {
                w.key("last_status")
                w.int(status)
            }
            if d.state == .pending {
                w.key("next_attempt_at")
                w.string(JobJSON.time(d.nextAttemptAt))
            }
            w.key("pipeline")
            w.string(d.pipeline)
            w.key("state")
            w.string(d.state.rawValue)
            w.key("webhook")
            w.string(d.webhook)
        }
    }
}
