import ByteStrings
import Foundation
import HTTP
import Identity
import JobStore
import Policy

extension App {
    /// Whether lighttpd sent `request` as a FastCGI authorizer (`"mode" => "authorizer"`):
    /// libfcgi reports the role of the request in `FCGI_ROLE`, a param no client can set (a
    /// client's headers arrive as `HTTP_*`).
    static func isAuthorizerRequest(_ request: HTTPRequest) -> Bool {
        request.params["FCGI_ROLE"].map { $0.bytesEqual("AUTHORIZER") } ?? false
    }

    /// The name of the `Variable-` header that sets lighttpd's `REMOTE_USER` for the handlers
    /// after the authorizer: `mod_proxy` passes it on as `Forwarded: ...;remote_user="..."` when
    /// `proxy.forwarded` has `"remote_user" => 1` (lighttpd 1.4.69 `src/mod_proxy.c`
    /// `proxy_set_Forwarded`). It is the only `Variable-` that reaches an HTTP upstream.
    static let remoteUserVariable = "Variable-REMOTE_USER"

    /// Answers lighttpd's question "may this request go on to the guarded upstream?".
    ///
    /// 200 lets it through (lighttpd then hands it to `mod_proxy`); anything else is sent to the
    /// client as is, and the upstream never sees the request. The upstream is the one lighttpd's
    /// block names in `SLUICE_UPSTREAM` (`setenv.set-environment`), an environment variable no
    /// client can set. The caller is authenticated by the same identity chain as Sluice's own
    /// pages; the request's method and decoded path are mapped to a verb by the upstream's
    /// rules (none matching: denied); the caller's rate limit is taken; the policy decides.
    /// Every decision is audited: before the answer when the verb is `operate`, else through
    /// the audit queue (see `AuditQueue`).
    func authorize(_ original: HTTPRequest, requestID: String, snapshot: ConfigurationSnapshot) -> HTTPResponse {
        let configuration = snapshot.configuration
        guard let name = original.params["SLUICE_UPSTREAM"], let settings = configuration.upstream(named: name) else {
            let named = original.params["SLUICE_UPSTREAM"]
            self.logger.error(
                "authorizer request for an upstream Sluice does not guard", ["request.id": requestID, "upstream": named ?? "(none)"])
            // "_unknown": no configured name starts with "_", so it never counts as a real one.
            self.metrics.upstreamDecided(upstream: "_unknown", verb: "none", decision: "unknown_upstream")
            let message =
                named.map { "Sluice guards no upstream named \($0) (configure it under upstreams)" }
                ?? "Sluice was asked as an authorizer without SLUICE_UPSTREAM: set it with setenv.set-environment in lighttpd's block"
            return Self.refusal(HTTPError(.internalServerError, message))
        }
        let upstream = settings.upstream
        let request: HTTPRequest
        do {
            request = try original.mergingRepeatedParams { RepeatedParams.mustBeSingle($0, identity: configuration.identity) }
        } catch {
            return self.upstreamDenial(
                error, upstream: upstream.name, verb: nil, principal: nil, request: original, requestID: requestID, snapshot: snapshot)
        }
        let method = request.method
        // What mod_proxy sends on is lighttpd's normalised target (REDIRECT_URI when it differs
        // from what the client sent, REQUEST_URI otherwise): decide on that, not on the raw one.
        let target = request.params["REDIRECT_URI"] ?? request.requestURI

        let principal: Principal
        switch snapshot.authenticator.authenticate(request) {
        case .authenticated(let p): principal = p
        case .absent:
            return self.upstreamDenial(
                HTTPError(.unauthorized, "authentication required"), upstream: upstream.name, verb: nil, principal: nil,
                request: request, requestID: requestID, snapshot: snapshot, reason: "\(method) \(target): no credentials")
        case .invalid(let failure):
            self.metrics.authenticationFailed(failure)
            self.logger.warning(
                "authentication failed",
                ["request.id": requestID, "reason": failure.detail, "client.address": request.params["REMOTE_ADDR"] ?? ""])
            return self.upstreamDenial(
                HTTPError(.unauthorized, "authentication required"), upstream: upstream.name, verb: nil, principal: nil,
                request: request, requestID: requestID, snapshot: snapshot, reason: "\(method) \(target): \(failure.detail)")
        }

        let verb: Verb
        let ruleIndex: Int
        let path: UpstreamPath
        switch upstream.match(method: method, target: target) {
        case .outside:
            return self.upstreamDenial(
                HTTPError(.forbidden, "not below \(upstream.mountPath ?? "/"), where Sluice guards \(upstream.name)"),
                upstream: upstream.name, verb: nil, principal: principal, request: request, requestID: requestID, snapshot: snapshot)
        case .refused(let refusal):
            return self.upstreamDenial(
                HTTPError(.badRequest, "refused: \(refusal.reason)"), upstream: upstream.name, verb: nil, principal: principal,
                request: request, requestID: requestID, snapshot: snapshot)
        case .noRule(let p):
            return self.upstreamDenial(
                HTTPError(.forbidden, "no rule of upstream \(upstream.name) allows \(method) \(p)"), upstream: upstream.name, verb: nil,
                principal: principal, request: request, requestID: requestID, snapshot: snapshot)
        case .rule(let index, let v, let p):
            (verb, ruleIndex, path) = (v, index, p)
        }
        let what = "\(verb.rawValue) \(method) \(path) (upstreams.\(upstream.name).rules[\(ruleIndex)])"

        if let limiter = snapshot.upstreamLimiters[ByteString(upstream.name)],
            let wait = limiter.take("\(principal.source.rawValue):\(principal.user)")
        {
            return self.upstreamDenial(
                HTTPError(
                    .tooManyRequests, "too many requests to \(upstream.name); retry in \(wait) s", headers: [("Retry-After", String(wait))]),
                upstream: upstream.name, verb: verb, principal: principal, request: request, requestID: requestID, snapshot: snapshot,
                reason: "\(what): rate limited", decision: "rate_limited")
        }
        // A browser sends basic-auth credentials to any page that links to the upstream, and
        // Luigi changes state on GET (`/api/forgive_failures?data=...`): refuse `operate` from
        // another site whatever the method.
        if verb == .operate, let refusal = CrossSiteGuard.refusal(request, principal: principal, everyMethod: true) {
            return self.upstreamDenial(
                HTTPError(.forbidden, "cross-site request refused"), upstream: upstream.name, verb: verb, principal: principal,
                request: request, requestID: requestID, snapshot: snapshot, reason: "\(what): \(refusal)", decision: "cross_site")
        }
        let subject = Explanation.subject(of: principal)
        switch snapshot.policy.decideOnUpstream(subject, verb, upstream: upstream.name) {
        case .deny(let why):
            return self.upstreamDenial(
                HTTPError(.forbidden, "you may not \(verb.rawValue) \(upstream.name) (\(method) \(path))"), upstream: upstream.name,
                verb: verb, principal: principal, request: request, requestID: requestID, snapshot: snapshot, reason: "\(what): \(why)")
        case .allow(let role, let index):
            let audited = self.auditUpstream(
                principal: principal, request: request, requestID: requestID, upstream: upstream.name, verb: verb, allowed: true,
                reason: "\(what): roles.\(role).grants[\(index)]", configHash: configuration.hash)
            // A change goes through only once its record is durable.
            guard audited || verb != .operate else {
                self.metrics.upstreamDecided(upstream: upstream.name, verb: verb.rawValue, decision: "audit_failed")
                return Self.refusal(
                    HTTPError(.serviceUnavailable, "cannot write the audit record; try again", headers: [("Retry-After", "5")]))
            }
            self.metrics.upstreamDecided(upstream: upstream.name, verb: verb.rawValue, decision: "allow")
            var response = HTTPResponse(status: .ok)
            // lighttpd appends a Variable- value to an existing variable (", "): REMOTE_USER
            // already holds this user when lighttpd authenticated it, so only other sources set it.
            if principal.source != .remoteUser { response.setHeader(Self.remoteUserVariable, principal.user) }
            return response
        }
    }

    /// Audits and counts a refusal, and renders it (JSON: the client may be a browser or a
    /// script, and the upstream's own pages are not Sluice's to style).
    private func upstreamDenial(
        _ httpError: HTTPError, upstream: String, verb: Verb?, principal: Principal?, request: HTTPRequest, requestID: String,
        snapshot: ConfigurationSnapshot, reason: String? = nil, decision: String? = nil
    ) -> HTTPResponse {
        self.auditUpstream(
            principal: principal, request: request, requestID: requestID, upstream: upstream, verb: verb, allowed: false,
            reason: reason ?? httpError.message, configHash: snapshot.configuration.hash)
        let label =
            decision
            ?? {
                switch httpError.status {
                case .unauthorized: return "unauthenticated"
                case .badRequest: return "malformed"
                default: return verb == nil ? "no_rule" : "deny"
                }
            }()
        self.metrics.upstreamDecided(upstream: upstream, verb: verb?.rawValue ?? "none", decision: label)
        return Self.refusal(httpError)
    }

    /// A refusal as lighttpd passes it to the client: the JSON error with the security headers.
    private static func refusal(_ error: HTTPError) -> HTTPResponse {
        var response = error.jsonResponse()
        SecurityHeaders.apply(to: &response)
        return response
    }

    /// Audits a decision about a guarded upstream under the event `upstream:<name>`: committed
    /// before the answer for `operate`, queued otherwise (written within a tenth of a second;
    /// synchronously when the queue is full).
    /// Returns whether the record was committed or queued.
    @discardableResult
    private func auditUpstream(
        principal: Principal?, request: HTTPRequest, requestID: String, upstream: String, verb: Verb?, allowed: Bool, reason: String,
        configHash: String
    ) -> Bool {
        let record = AuditRecord(
            at: Date(), event: "upstream:\(upstream)", allowed: allowed, user: principal?.user,
            identitySource: principal?.source.rawValue, pipeline: nil, jobID: nil, reason: reason, requestID: requestID,
            clientAddress: request.params["REMOTE_ADDR"], configHash: configHash)
        if verb != .operate && self.auditQueue.enqueue(record) { return true }
        do {
            try self.store.appendAudit(record)
            return true
        } catch {
            self.logger.error("cannot write audit record", ["request.id": requestID, "event": record.event, "error": "\(error)"])
            return false
        }
    }
}
