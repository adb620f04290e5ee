import ByteStrings
import Crypto
import Foundation
public import HTTP
import Identity
public import JobStore
import Locking
import Logging
import Pages
import Policy
import Synchronization
import SystemCalls
public import Workflow

/// The application: authenticates each request, routes it, and renders errors — the one place
/// where failures become HTTP statuses.
public final class App: HTTPHandler {
    typealias Handler = @Sendable (App) -> (RequestContext) throws -> HTTPResponse
    typealias PublicHandler = @Sendable (App) -> (PublicContext) throws -> HTTPResponse

    struct Route: Sendable {
        enum Target: Sendable {
            /// Reached without identity (`/healthz`, static files, the OpenAPI document).
            case open(PublicHandler)
            /// Reached only by an authenticated caller.
            case identified(Handler)
        }

        var target: Target
        var isAPI: Bool
        /// The route's pattern (`/api/v1/jobs/:id`), the `route` label of the HTTP metrics.
        var pattern: String = ""
    }

    /// The configuration snapshot in force, swapped whole by `reload(_:)`.
    ///
    /// Read once per request, under a mutex of the calling thread's stripe (`Striped`) that
    /// guards only a pointer copy and a retain. (An earlier version read a lock-free pointer ~25
    /// times per request and never freed old snapshots, since a reader might still be using
    /// one; one read per request under a lock lets ARC free a snapshot once the last request
    /// holding it is done, and the stripes keep the 8 worker threads off each other's lock.)
    private let snapshotInForce: Striped<ConfigurationSnapshot>

    /// The snapshot in force now. Handlers never call this: they use their context's snapshot,
    /// taken once by dispatch.
    var currentSnapshot: ConfigurationSnapshot { self.snapshotInForce.value }

    /// The configuration in force now (for reloads and offline tools, not for handlers).
    public var configurationInForce: Configuration { self.currentSnapshot.configuration }

    let store: any JobStore
    let runner: Runner?
    /// Drain for host maintenance (no new job starts); nil without a runner (tests).
    let drain: DrainControl?
    let logDirectory: String
    let router: Router<Route>
    /// What `GET /metrics` shows.
    public let metrics: SluiceMetrics
    private let stopping = Atomic<Bool>(false)
    /// Storage errors seen by requests, for `/healthz`.
    let storageTrouble = StorageTrouble()
    /// At most all but two worker threads (and at least half of them) may wait inside a store
    /// write; the rest stay free for reads and `/healthz`. API triggers parked for the store's
    /// committer (`trigger`) hold no thread and do not pass it; the writes that still wait on
    /// their thread do (cancels, retries, approvals, forms, and triggers that cannot be parked).
    let writeGate: WriteGate
    /// API triggers parked while the store's committer commits them (`trigger`).
    let parkedTriggers = Atomic<Int>(0)
    /// The JSON of finished jobs, checked against the store's stamp on every use.
    let finishedJobs = FinishedJobCache<FinishedJobJSON>()
    /// Large finished jobs as read, with their layers, for their pages (at most 64 jobs, about 96 MiB).
    let finishedRecords = FinishedJobCache<FinishedJobRecord>(maxEntries: 64, maxCost: 96 << 20)
    /// Audit records of guarded upstreams' views, written just after their answers.
    let auditQueue: AuditQueue
    let logger = Logger(label: "http")
    /// Issues and checks the CSRF tokens of HTML forms.
    let csrf: CSRFTokens
    /// Wakes long-polling job requests when the runner commits a change.
    let changes: JobChanges
    /// Which store is in use (`sqlite`, `postgres`), for `/healthz`: the one opened at start
    /// (a changed `store` takes effect on restart), so it is fixed for the process.
    let storeKind: String

    /// Creates the app.
    /// - Parameters:
    ///   - runner: woken after triggers and cancels; nil in tests that only look at the store.
    ///   - changes: notified by the runner of committed job changes (for `?wait=`).
    ///   - drain: the runner's drain switch, for `/api/v1/admin/drain`, `/healthz` and the
    ///     dashboard; nil: the app has no runner to drain.
    public init(
        configuration: Configuration, store: any JobStore, runner: Runner?, changes: JobChanges? = nil, drain: DrainControl? = nil,
        metrics: SluiceMetrics = SluiceMetrics()
    ) {
        self.drain = drain
        self.metrics = metrics
        metrics.configured(hash: configuration.hash)
        let snapshot = Striped(ConfigurationSnapshot(configuration))
        Self.collectGauges(
            into: metrics, store: store, runner: runner,
            approvalsConfigured: { snapshot.value.configuration.requiresApprovals })
        self.changes = changes ?? JobChanges(maxWatchers: JobChanges.defaultMaxWatchers)
        self.snapshotInForce = snapshot
        self.writeGate = WriteGate(limit: max(configuration.server.threads / 2, configuration.server.threads - 2))
        self.store = store
        self.auditQueue = AuditQueue(store: store)
        self.storeKind = configuration.store.kind
        self.runner = runner
        self.logDirectory = configuration.server.dataDirectory + "/logs"
        self.router = Self.makeRouter()
        do {
            if let shared = store as? any SharedJobStore {
                // Several hosts answer for one store: a form one of them rendered must be accepted
                // by every other, so the key lives in the store.
                self.csrf = CSRFTokens(secret: try shared.sharedSecret(named: "csrf", generate: { SecureRandom.bytes(32) }))
            } else {
                self.csrf = try CSRFTokens(secretPath: configuration.server.dataDirectory + "/csrf.key")
            }
        } catch {
            // Without the data directory (tests), forms still work until the process ends.
            Logger(label: "http").warning("cannot keep the CSRF secret; using one for this process only", ["error": "\(error)"])
            self.csrf = CSRFTokens(secret: SecureRandom.bytes(32))
        }
        self.collectConfigurationGauges(parallelism: configuration.server.parallelism)
    }

    /// Puts a new configuration in force (SIGHUP). Requests already running finish with the
    /// configuration they started with; jobs keep the argv they were triggered with. Server
    /// settings (threads, data directory, parallelism) only change on restart.
    public func reload(_ configuration: Configuration) {
        let next = ConfigurationSnapshot(configuration)
        // The old snapshot is released here; requests still holding it keep it alive until they finish.
        self.snapshotInForce.replace(with: next)
        self.runner?.update(configuration.runnerLimits)
    }

    /// Marks the app as stopping (SIGTERM, or an exit after a drain): `/healthz` answers 503 so
    /// load balancers stop sending work, and long-polls end.
    public func beginStopping() {
        self.stopping.store(true, ordering: .relaxed)
        self.changes.close()
    }

    /// Whether the process is stopping (not to be confused with a drain, in which it serves on).
    var isStopping: Bool { self.stopping.load(ordering: .relaxed) }

    private static func makeRouter() -> Router<Route> {
        var r = Router<Route>()
        func page(_ method: String, _ path: String, _ h: @escaping Handler) {
            r.add(method, path, Route(target: .identified(h), isAPI: false, pattern: path))
        }
        func api(_ method: String, _ path: String, _ h: @escaping Handler) {
            r.add(method, path, Route(target: .identified(h), isAPI: true, pattern: path))
        }
        r.add("GET", "/healthz", Route(target: .open({ $0.health }), isAPI: true, pattern: "/healthz"))
        r.add("GET", "/metrics", Route(target: .open({ $0.metricsEndpoint }), isAPI: true, pattern: "/metrics"))
        r.add("GET", "/static/:file", Route(target: .open({ $0.staticFile }), isAPI: false, pattern: "/static/:file"))
        r.add("GET", "/api/v1/openapi.json", Route(target: .open({ $0.openAPI }), isAPI: true, pattern: "/api/v1/openapi.json"))
        page("GET", "/", { $0.dashboard })
        page("GET", "/jobs", { $0.jobListPage })
        page("GET", "/jobs/:id", { $0.jobPage })
        page("GET", "/jobs/:id/tasks/:task/log", { $0.logPage })
        page("GET", "/whoami", { $0.whoamiPage })
        page("GET", "/pipelines/:name", { $0.pipelinePage })
        page("POST", "/pipelines/:name/jobs", { $0.triggerForm })
        page("POST", "/jobs/:id/cancel", { $0.cancelForm })
        page("POST", "/jobs/:id/retry", { $0.retryForm })
        page("GET", "/admin/deliveries", { $0.deliveriesPage })
        page("POST", "/admin/deliveries/:id/redeliver", { $0.redeliverForm })
        page("POST", "/jobs/:id/approve", { $0.approveForm })
        page("POST", "/jobs/:id/reject", { $0.rejectForm })
        api("GET", "/api/v1/whoami", { $0.whoami })
        api("GET", "/api/v1/pipelines", { $0.listPipelines })
        api("GET", "/api/v1/pipelines/:name", { $0.showPipeline })
        api("POST", "/api/v1/pipelines/:name/jobs", { $0.trigger })
        api("GET", "/api/v1/jobs", { $0.listJobs })
        api("GET", "/api/v1/jobs/:id", { $0.showJob })
        api("POST", "/api/v1/jobs/:id/cancel", { $0.cancel })
        api("POST", "/api/v1/jobs/:id/retry", { $0.retry })
        api("POST", "/api/v1/jobs/:id/approve", { $0.approve })
        api("POST", "/api/v1/jobs/:id/reject", { $0.reject })
        api("GET", "/api/v1/audit", { $0.auditLog })
        page("GET", "/audit", { $0.auditPage })
        api("GET", "/api/v1/jobs/:id/tasks/:task/log", { $0.rawLog })
        api("GET", "/api/v1/admin/drain", { $0.drainStatus })
        api("POST", "/api/v1/admin/drain", { $0.startDrain })
        api("DELETE", "/api/v1/admin/drain", { $0.endDrain })
        api("GET", "/api/v1/admin/deliveries", { $0.listDeliveries })
        api("POST", "/api/v1/admin/deliveries/:id/redeliver", { $0.redeliver })
        return r
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let started = ContinuousClock.now
        let requestID = RequestID.next()
        // The one read of the configuration for this request: everything below, handlers
        // included, decides with this snapshot.
        let snapshot = self.currentSnapshot
        if Self.isAuthorizerRequest(request) {
            // lighttpd asking whether a request may go on to a guarded upstream: not a request
            // for Sluice's own routes, whatever its path.
            var response = self.authorize(request, requestID: requestID, snapshot: snapshot)
            response.setHeader("X-Request-Id", requestID)
            response.statusFirst = true
            self.metrics.request(
                route: "authorizer", method: request.method, status: Int(response.status.code),
                seconds: (ContinuousClock.now - started).inSeconds)
            return response
        }
        let mountPath = snapshot.configuration.server.basePath ?? request.scriptName
        let path = Self.routePath(of: request, basePath: snapshot.configuration.server.basePath)
        // Errors of the API and of /metrics (read by programs) are JSON; of pages, HTML.
        let isAPIPath = path.map { $0.utf8.starts(with: "/api/".utf8) || $0.utf8.elementsEqual("/metrics".utf8) } ?? false
        let asJSON = isAPIPath || Self.prefersJSON(request)
        // Routed once: the handler and the metrics' route label both come from this match.
        let match = path.map { self.router.match(method: request.method, rawPath: $0) }
        let route = Self.routeLabel(match)
        var response: HTTPResponse
        do {
            // A header sent twice: merged, unless a decision reads it (then 400).
            let request = try request.mergingRepeatedParams {
                RepeatedParams.mustBeSingle($0, identity: snapshot.configuration.identity)
            }
            response = try self.dispatch(request, path: path, match: match, requestID: requestID, mountPath: mountPath, snapshot: snapshot)
        } catch {
            response = self.errorResponse(error, requestID: requestID, asJSON: asJSON, mountPath: mountPath)
        }
        if let deferred = response.deferred {
            // A long-poll: the handler answers later through the sink; the answer gets the same
            // finishing touches as one made now.
            return .deferred { [self] sink in
                deferred.start(
                    ResponseSink { answer in
                        sink.send(self.finish(answer, request: request, requestID: requestID, route: route, started: started))
                    })
            }
        }
        return self.finish(response, request: request, requestID: requestID, route: route, started: started)
    }

    /// What every answer gets before it goes out: its request id, the security headers, the
    /// conditional-GET check, no body for HEAD, and its metrics.
    ///
    /// `consuming`: the caller's response is moved in, so adding headers does not copy the list
    /// (a profile of job JSON found it copied once per request).
    private func finish(
        _ response: consuming HTTPResponse, request: HTTPRequest, requestID: String, route: String, started: ContinuousClock.Instant
    ) -> HTTPResponse {
        var response = response
        response.setHeader("X-Request-Id", requestID)
        SecurityHeaders.apply(to: &response)
        if request.method == "GET" || request.method == "HEAD" { ConditionalGET.apply(to: &response, request: request) }
        if request.method == "HEAD" { response.body = [] }
        self.metrics.request(
            route: route, method: request.method, status: Int(response.status.code), seconds: (ContinuousClock.now - started).inSeconds)
        return response
    }

    /// An error as the answer: `HTTPError` as it says, storage trouble as 503 (507 for a full
    /// disk) with `Retry-After`, anything else as a 500 naming the request id. The one place
    /// errors become statuses, for answers made now and for deferred ones.
    func errorResponse(_ error: any Error, requestID: String, asJSON: Bool, mountPath: String) -> HTTPResponse {
        switch error {
        case let error as HTTPError:
            return self.render(error, asJSON: asJSON, mountPath: mountPath)
        case let error as StorageUnavailable:
            // Storage trouble is not a bug: 503 (507 for a full disk) with Retry-After, counted
            // for /healthz, never the generic 500.
            self.storageTrouble.record(error)
            self.logger.error(
                "storage unavailable", ["request.id": requestID, "kind": error.kind.rawValue, "error": error.detail])
            let status: HTTPStatus = error.kind == .full ? .insufficientStorage : .serviceUnavailable
            return self.render(
                HTTPError(status, error.message, headers: [("Retry-After", String(error.retryAfterSeconds))]), asJSON: asJSON,
                mountPath: mountPath)
        default:
            self.logger.error("unhandled error", ["request.id": requestID, "error": "\(error)"])
            return self.render(
                HTTPError(.internalServerError, "internal error (request \(requestID))"), asJSON: asJSON, mountPath: mountPath)
        }
    }

    /// The `route` label of a request's metrics: the pattern of the route it matched, else
    /// `unmatched` (or `outside` the mount path): never the path itself, which would make a
    /// series per job id or per probe.
    private static func routeLabel(_ match: Router<Route>.Match?) -> String {
        guard let match else { return "outside" }
        if case .found(let route, _) = match { return route.pattern }
        return "unmatched"
    }

    /// The path below the mount point, still percent-encoded; nil if the request is outside it.
    ///
    /// The mount point is `server.base_path` when configured, else the front server's
    /// `SCRIPT_NAME`. Configure it: lighttpd's `fastcgi.server` prefix also matches `/sluiceX`,
    /// and then reports `SCRIPT_NAME=/sluiceX`, which only a configured base path can refuse.
    static func routePath(of request: HTTPRequest, basePath: String?) -> String? {
        let raw = request.rawPath
        if let base = basePath {
            guard raw.utf8.starts(with: base.utf8) else { return nil }
            return String(decoding: raw.utf8.dropFirst(base.utf8.count), as: UTF8.self)
        }
        // Bytes, not `hasPrefix`: that compares Characters by canonical equivalence.
        let script = request.scriptName.utf8
        return raw.utf8.starts(with: script) ? String(decoding: raw.utf8.dropFirst(script.count), as: UTF8.self) : raw
    }

    private func dispatch(
        _ request: HTTPRequest, path: String?, match: Router<Route>.Match?, requestID: String, mountPath: String,
        snapshot: ConfigurationSnapshot
    ) throws -> HTTPResponse {
        if snapshot.configuration.server.basePath == nil, let software = request.params["SERVER_SOFTWARE"],
            !software.utf8.starts(with: "lighttpd".utf8)
        {
            // nginx, Apache and HAProxy put the whole path in SCRIPT_NAME, so the mount path
            // taken from it would be the request's own path, and every page would redirect to
            // itself plus "/", forever. Only lighttpd's SCRIPT_NAME is the mount path.
            throw HTTPError(
                .internalServerError,
                "server.base_path is not set: Sluice takes its mount path from SCRIPT_NAME only behind lighttpd; set server.base_path to the prefix \(software) forwards"
            )
        }
        guard let path else { throw HTTPError(.notFound, "not found") }
        if path.isEmpty { return .redirect(to: mountPath + "/", status: .movedPermanently) }
        // A prefix match such as /sluiceX must not be served as /sluice + "X".
        guard path.hasPrefix("/"), let match else { throw HTTPError(.notFound, "not found") }
        switch match {
        case .notFound:
            throw HTTPError(.notFound, "not found")
        case .methodNotAllowed(let allowed):
            throw HTTPError(.methodNotAllowed, "method not allowed", headers: [("Allow", allowed.joined(separator: ", "))])
        case .found(let route, let parameters):
            // Credentials are checked on every route: bad ones are a 401 even where none are needed.
            var authenticated: Principal? = nil
            switch snapshot.authenticator.authenticate(request) {
            case .authenticated(let p): authenticated = p
            case .absent: break
            case .invalid(let failure):
                let reason = failure.detail
                self.metrics.authenticationFailed(failure)
                self.logger.warning(
                    "authentication failed",
                    ["request.id": requestID, "reason": reason, "client.address": request.params["REMOTE_ADDR"] ?? ""])
                self.audit(
                    principal: nil, request: request, requestID: requestID, event: "authenticate", allowed: false, reason: reason,
                    configHash: snapshot.configuration.hash)
                throw HTTPError(.unauthorized, "authentication required")
            }
            let handler: Handler
            switch route.target {
            case .open(let open):
                let context = PublicContext(request: request, parameters: parameters, mountPath: mountPath, snapshot: snapshot)
                return try open(self)(context)
            case .identified(let identified): handler = identified
            }
            guard let principal = authenticated else { throw HTTPError(.unauthorized, "authentication required") }
            if let reason = CrossSiteGuard.refusal(request, principal: principal) {
                self.logger.warning("cross-site request refused", ["request.id": requestID, "reason": reason])
                self.audit(
                    principal: principal, request: request, requestID: requestID, event: "cross_site", allowed: false, reason: reason,
                    configHash: snapshot.configuration.hash)
                throw HTTPError(.forbidden, "cross-site request refused")
            }
            let query = request.query
            try Self.requireNFC(parameters: parameters, query: query)
            let context = RequestContext(
                request: request, parameters: parameters, query: query, caller: principal, subject: Explanation.subject(of: principal),
                mountPath: mountPath, isAPI: route.isAPI, requestID: requestID, snapshot: snapshot)
            do {
                return try handler(self)(context)
            } catch let error as HTTPError where !route.isAPI && !Self.prefersJSON(request) {
                // The caller is known here: the page says who they are signed in as.
                return Self.page(for: error, layout: context.layout)
            }
        }
    }

    /// Refuses (400) route segments and query names or values that are not in Unicode NFC.
    ///
    /// Every name in the URL (pipeline, task, user, state, event filters) is compared as bytes
    /// with the configuration's spelling and with what the store holds; a spelling that is only
    /// canonically equivalent (`\u{212A}PI-report` for `KPI-report`) is refused outright rather
    /// than matched by one layer and missed by another.
    static func requireNFC(parameters: [String: String], query: [String: String]) throws {
        for (name, value) in parameters where !UnicodeNames.isNFC(value) {
            throw HTTPError(.badRequest, "the \(name) in the URL is not in Unicode NFC (canonical composition)")
        }
        for (name, value) in query where !UnicodeNames.isNFC(name) || !UnicodeNames.isNFC(value) {
            let shown = UnicodeNames.isNFC(name) ? "query parameter \(name)" : "a query parameter name"
            throw HTTPError(.badRequest, "\(shown) is not in Unicode NFC (canonical composition)")
        }
    }

    /// Renders an error before a caller is known. Such error pages show no user name: the error
    /// may be that the name was refused.
    private func render(_ error: HTTPError, asJSON: Bool, mountPath: String) -> HTTPResponse {
        if asJSON { return error.jsonResponse() }
        return Self.page(for: error, layout: Layout(mountPath: mountPath, user: nil))
    }

    /// An error as an HTML page in `layout` (with the user's name when the layout has one).
    private static func page(for error: HTTPError, layout: Layout) -> HTTPResponse {
        var response = HTTPResponse.html(Pages.error(layout, status: error.status.code, message: error.message), status: error.status)
        for (name, value) in error.headers { response.setHeader(name, value) }
        return response
    }

    private static func prefersJSON(_ request: HTTPRequest) -> Bool {
        guard let accept = request.header("Accept") else { return false }
        return accept.contains("application/json") && !accept.contains("text/html")
    }
}
