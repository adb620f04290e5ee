import Crypto
import Foundation
public import HTTP
import Identity
public import JobStore
import Logging
import Pages
import Policy
import Synchronization
public import Workflow

/// The application: authenticates each request, routes it, and renders errors — the one place
/// where failures become HTTP statuses.
public final class App: HTTPHandler {
    typealias Handler = @Sendable (App) -> (RequestContext) throws -> HTTPResponse

    struct Route: Sendable {
        var handler: Handler
        var needsIdentity: Bool
        var isAPI: Bool
    }

    /// The configuration in force and the authenticators built from it, swapped together by
    /// `reload(_:)`.
    ///
    /// A class, so that taking it is one retain under the lock: with a struct every request
    /// copied the whole configuration (dozens of retains) inside the critical section, and the
    /// worker threads queued on the lock (it showed in profiles as `Mutex.lockSlow`).
    private final class Snapshot: Sendable {
        let configuration: Configuration
        let authenticator: AuthenticatorChain
        let identityLimiter: RateLimiter?
        let pipelineLimiter: RateLimiter?

        init(_ configuration: Configuration) {
            self.configuration = configuration
            self.authenticator = configuration.makeAuthenticator()
            self.identityLimiter = configuration.triggerLimitPerIdentity.map { RateLimiter(limit: $0) }
            self.pipelineLimiter = configuration.triggerLimitPerPipeline.map { RateLimiter(limit: $0) }
        }
    }

    /// The snapshot in force, as the bits of a retained pointer, read without a lock: every
    /// request reads it several times, and a mutex here convoyed the worker threads (8 threads
    /// on 2 cores; the holder gets preempted). A reload publishes a new snapshot and keeps the
    /// old one alive for good — a request may still be using it, and reloads are rare (one
    /// small object per SIGHUP).
    private let snapshot: Atomic<UInt>

    /// The configuration in force.
    var configuration: Configuration { self.current.configuration }

    private var authenticator: AuthenticatorChain { self.current.authenticator }

    private var current: Snapshot {
        let bits = self.snapshot.load(ordering: .acquiring)
        return Unmanaged<Snapshot>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
    }

    private static func publish(_ snapshot: Snapshot) -> UInt {
        UInt(bitPattern: Unmanaged.passRetained(snapshot).toOpaque())
    }

    /// The trigger rate limiters in force (per identity, per pipeline).
    var limiters: (identity: RateLimiter?, pipeline: RateLimiter?) {
        let snapshot = self.current
        return (snapshot.identityLimiter, snapshot.pipelineLimiter)
    }
    let store: any JobStore
    let runner: Runner?
    let logDirectory: String
    let router: Router<Route>
    private let draining = Atomic<Bool>(false)
    let logger = Logger(label: "http")
    /// Issues and checks the CSRF tokens of HTML forms.
    let csrf: CSRFTokens
    /// Wakes long-polling job requests when the runner commits a change.
    let changes: JobChanges

    /// Creates the app.
    /// - Parameters:
    ///   - runner: woken after triggers and cancels; nil in tests that only look at the store.
    ///   - changes: notified by the runner of committed job changes (for `?wait=`).
    public init(configuration: Configuration, store: any JobStore, runner: Runner?, changes: JobChanges? = nil) {
        self.changes = changes ?? JobChanges(maxWaiters: max(1, configuration.server.threads / 2))
        self.snapshot = Atomic(Self.publish(Snapshot(configuration)))
        self.store = store
        self.runner = runner
        self.logDirectory = configuration.server.dataDirectory + "/logs"
        self.router = Self.makeRouter()
        do {
            self.csrf = try CSRFTokens(secretPath: configuration.server.dataDirectory + "/csrf.key")
        } catch {
            // Without the data directory (tests), forms still work until the process ends.
            Logger(label: "http").warning("cannot keep the CSRF secret; using one for this process only", ["error": "\(error)"])
            self.csrf = CSRFTokens(secret: SecureRandom.bytes(32))
        }
    }

    /// Puts a new configuration in force (SIGHUP). Requests already running finish with the
    /// configuration they started with; jobs keep the argv they were triggered with. Server
    /// settings (threads, data directory, parallelism) only change on restart.
    public func reload(_ configuration: Configuration) {
        let next = Snapshot(configuration)
        self.snapshot.store(Self.publish(next), ordering: .releasing)
        self.runner?.update(configuration.runnerLimits)
    }

    /// Marks the app as draining: `/healthz` answers 503 so load balancers stop sending work.
    public func beginDraining() {
        self.draining.store(true, ordering: .relaxed)
        self.changes.close()
    }

    var isDraining: Bool { self.draining.load(ordering: .relaxed) }

    private static func makeRouter() -> Router<Route> {
        var r = Router<Route>()
        func page(_ method: String, _ path: String, _ h: @escaping Handler) {
            r.add(method, path, Route(handler: h, needsIdentity: true, isAPI: false))
        }
        func api(_ method: String, _ path: String, _ h: @escaping Handler) {
            r.add(method, path, Route(handler: h, needsIdentity: true, isAPI: true))
        }
        r.add("GET", "/healthz", Route(handler: { $0.health }, needsIdentity: false, isAPI: true))
        r.add("GET", "/static/:file", Route(handler: { $0.staticFile }, needsIdentity: false, isAPI: false))
        r.add("GET", "/api/v1/openapi.json", Route(handler: { $0.openAPI }, needsIdentity: false, isAPI: true))
        page("GET", "/", { $0.dashboard })
        page("GET", "/jobs", { $0.jobListPage })
        page("GET", "/jobs/:id", { $0.jobPage })
        page("GET", "/jobs/:id/tasks/:task/log", { $0.logPage })
        page("GET", "/whoami", { $0.whoamiPage })
        page("GET", "/pipelines/:name", { $0.pipelinePage })
        page("POST", "/pipelines/:name/jobs", { $0.triggerForm })
        page("POST", "/jobs/:id/cancel", { $0.cancelForm })
        page("POST", "/jobs/:id/retry", { $0.retryForm })
        api("GET", "/api/v1/whoami", { $0.whoami })
        api("GET", "/api/v1/pipelines", { $0.listPipelines })
        api("GET", "/api/v1/pipelines/:name", { $0.showPipeline })
        api("POST", "/api/v1/pipelines/:name/jobs", { $0.trigger })
        api("GET", "/api/v1/jobs", { $0.listJobs })
        api("GET", "/api/v1/jobs/:id", { $0.showJob })
        api("POST", "/api/v1/jobs/:id/cancel", { $0.cancel })
        api("POST", "/api/v1/jobs/:id/retry", { $0.retry })
        api("GET", "/api/v1/audit", { $0.auditLog })
        page("GET", "/audit", { $0.auditPage })
        api("GET", "/api/v1/jobs/:id/tasks/:task/log", { $0.rawLog })
        return r
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let requestID = Hex.encode(SecureRandom.bytes(6))
        let mountPath = self.configuration.server.basePath ?? request.scriptName
        let path = self.routePath(of: request)
        let isAPIPath = path?.hasPrefix("/api/") ?? false
        var response: HTTPResponse
        do {
            response = try self.dispatch(request, path: path, requestID: requestID, mountPath: mountPath)
        } catch let error as HTTPError {
            response = self.render(
                error, asJSON: isAPIPath || Self.prefersJSON(request), mountPath: mountPath)
        } catch {
            self.logger.error("unhandled error", ["request.id": requestID, "error": "\(error)"])
            let generic = HTTPError(.internalServerError, "internal error (request \(requestID))")
            response = self.render(generic, asJSON: isAPIPath || Self.prefersJSON(request), mountPath: mountPath)
        }
        response.setHeader("X-Request-Id", requestID)
        SecurityHeaders.apply(to: &response)
        if request.method == "GET" || request.method == "HEAD" { ConditionalGET.apply(to: &response, request: request) }
        if request.method == "HEAD" { response.body = [] }
        return response
    }

    /// The path below the mount point, still percent-encoded; nil if the request is outside it.
    ///
    /// The mount point is `server.base_path` when configured, else the front server's
    /// `SCRIPT_NAME`. Configure it: lighttpd's `fastcgi.server` prefix also matches `/sluiceX`,
    /// and then reports `SCRIPT_NAME=/sluiceX`, which only a configured base path can refuse.
    func routePath(of request: HTTPRequest) -> String? {
        let raw = request.rawPath
        if let base = self.configuration.server.basePath {
            guard raw.hasPrefix(base) else { return nil }
            return String(raw.dropFirst(base.count))
        }
        return raw.hasPrefix(request.scriptName) ? String(raw.dropFirst(request.scriptName.count)) : raw
    }

    private func dispatch(_ request: HTTPRequest, path: String?, requestID: String, mountPath: String) throws -> HTTPResponse {
        guard let path else { throw HTTPError(.notFound, "not found") }
        if path.isEmpty { return .redirect(to: mountPath + "/", status: .movedPermanently) }
        // A prefix match such as /sluiceX must not be served as /sluice + "X".
        guard path.hasPrefix("/") else { throw HTTPError(.notFound, "not found") }
        switch self.router.match(method: request.method, rawPath: path) {
        case .notFound:
            throw HTTPError(.notFound, "not found")
        case .methodNotAllowed(let allowed):
            throw HTTPError(.methodNotAllowed, "method not allowed", headers: [("Allow", allowed.joined(separator: ", "))])
        case .found(let route, let parameters):
            var principal: Principal? = nil
            switch self.authenticator.authenticate(request) {
            case .authenticated(let p): principal = p
            case .absent:
                if route.needsIdentity { throw HTTPError(.unauthorized, "authentication required") }
            case .invalid(let reason):
                self.logger.warning(
                    "authentication failed",
                    ["request.id": requestID, "reason": reason, "client.address": request.params["REMOTE_ADDR"] ?? ""])
                self.audit(principal: nil, request: request, requestID: requestID, event: "authenticate", allowed: false, reason: reason)
                throw HTTPError(.unauthorized, "authentication required")
            }
            if let reason = CrossSiteGuard.refusal(request, principal: principal) {
                self.logger.warning("cross-site request refused", ["request.id": requestID, "reason": reason])
                self.audit(
                    principal: principal, request: request, requestID: requestID, event: "cross_site", allowed: false, reason: reason)
                throw HTTPError(.forbidden, "cross-site request refused")
            }
            let context = RequestContext(
                request: request, parameters: parameters, principal: principal, mountPath: mountPath,
                isAPI: route.isAPI, requestID: requestID)
            return try route.handler(self)(context)
        }
    }

    /// Renders an error. Error pages show no user name: the error may be that the name was refused.
    private func render(_ error: HTTPError, asJSON: Bool, mountPath: String) -> HTTPResponse {
        if asJSON { return error.jsonResponse() }
        var response = HTTPResponse.html(
            Pages.error(
                Layout(mountPath: mountPath, user: nil), status: error.status.code,
                message: error.message), status: error.status)
        for (name, value) in error.headers { response.setHeader(name, value) }
        return response
    }

    private static func prefersJSON(_ request: HTTPRequest) -> Bool {
        guard let accept = request.header("Accept") else { return false }
        return accept.contains("application/json") && !accept.contains("text/html")
    }
}
