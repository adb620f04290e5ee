public import Foundation
public import Identity
public import Policy
public import Workflow

/// Sluice's whole configuration, read from one JSON5 file.
public struct Configuration: Sendable {
    /// Server settings.
    public struct Server: Sendable {
        /// The public mount path (e.g. `/sluice`); nil means "take it from SCRIPT_NAME".
        public var basePath: String?
        /// Directory for the database and task logs (absolute).
        public var dataDirectory: String
        /// FastCGI worker threads.
        public var threads: Int
        /// Most task processes running at once.
        public var parallelism: Int
        /// Largest request body accepted.
        public var maxBodyBytes: Int
        /// Seconds between SIGTERM and SIGKILL when stopping a task.
        public var gracePeriod: Int
        /// Names of Sluice's own environment variables passed to tasks.
        public var passEnvironment: [String]
        /// Bytes kept from the start of each attempt's log.
        public var logHeadBytes: Int
        /// Bytes kept from the end of each attempt's log.
        public var logTailBytes: Int
        /// Days after a job finished that its logs are deleted; nil: kept.
        public var logRetentionDays: Int?
        /// What stopping Sluice does with running tasks (`tasks_on_stop`).
        public var tasksOnStop: TasksOnStop = .keep
        /// Addresses that may read `GET /metrics` without identity (`metrics_peers`); anyone
        /// else needs the `admin` verb.
        public var metricsPeers: [IPRange] = []
    }

    /// Server settings.
    public var server: Server
    /// The identity sources.
    public var identity: IdentitySettings
    /// Roles and grants.
    public var policy: Policy
    /// Pipelines by name.
    public var pipelines: [String: PipelineDefinition]
    /// Trigger limit per identity, if any.
    var triggerLimitPerIdentity: RateLimiter.Limit?
    /// Trigger limit per pipeline, if any.
    var triggerLimitPerPipeline: RateLimiter.Limit?
    /// Capacities of named resources.
    public var resources: [String: Int]
    /// The directory holding the configuration file; tasks run there.
    public var directory: String
    /// SHA-256 of the file's bytes, hex: identifies the configuration in force.
    public var hash: String
    /// Where jobs, tasks and the audit log are kept (`store`; SQLite when absent).
    public var store: StoreSettings = .sqlite
    /// The guarded upstreams Sluice authorises requests to as lighttpd's FastCGI authorizer
    /// (`upstreams`), in name order; look one up with `upstream(named:)`.
    public var upstreams: [UpstreamSettings] = []
    /// The receivers of job notifications (`webhooks`), in name order; look one up with
    /// `webhook(named:)`.
    public var webhooks: [WebhookSettings] = []

    /// Whether any pipeline's jobs wait for approval.
    public var requiresApprovals: Bool { self.pipelines.values.contains { $0.approval != nil } }

    /// The webhook configured under exactly `name`'s bytes, or nil.
    public func webhook(named name: String) -> WebhookSettings? {
        self.webhooks.first { $0.name.utf8.elementsEqual(name.utf8) }
    }

    /// The guarded upstream configured under exactly `name`'s bytes, or nil.
    public func upstream(named name: String) -> UpstreamSettings? {
        self.upstreams.first { $0.upstream.name.utf8.elementsEqual(name.utf8) }
    }

    /// The authenticators in the order they are consulted: service tokens, signed assertions,
    /// trusted proxy headers, then lighttpd's `REMOTE_USER`. The first that finds credentials
    /// decides; invalid credentials end the search with a 401.
    public func makeAuthenticator(now: @escaping @Sendable () -> Date = Date.init) -> AuthenticatorChain {
        var sources: [any Authenticator] = []
        if !self.identity.serviceTokens.isEmpty { sources.append(ServiceTokenAuthenticator(tokens: self.identity.serviceTokens, now: now)) }
        for source in self.identity.assertions {
            sources.append(AssertionAuthenticator(verifier: AssertionVerifier(source: source, now: now)))
        }
        if let proxy = self.identity.proxyHeaders { sources.append(proxy) }
        if self.identity.remoteUser { sources.append(RemoteUserAuthenticator()) }
        return AuthenticatorChain(sources)
    }

    /// The runner's live limits under this configuration.
    public var runnerLimits: Runner.Limits {
        Runner.Limits(concurrency: self.pipelines.compactMapValues(\.concurrency), resources: self.resources)
    }

    /// Pipeline names, sorted.
    public var pipelineNames: [String] { self.pipelines.keys.sorted() }
}

/// The configured identity sources.
public struct IdentitySettings: Sendable {
    /// Whether lighttpd's `REMOTE_USER` is trusted.
    public var remoteUser: Bool
    /// Signed-assertion sources.
    public var assertions: [AssertionSource]
    /// Trusted proxy headers, if configured.
    public var proxyHeaders: ProxyHeaderAuthenticator?
    /// Service tokens (digests only).
    public var serviceTokens: [ServiceToken]

    /// The request headers the sources read identity from: each assertion's header and the
    /// trusted proxy's user and groups headers (`RepeatedParams`).
    public var headerNames: [String] {
        self.assertions.map(\.header) + [self.proxyHeaders?.userHeader, self.proxyHeaders?.groupsHeader].compactMap { $0 }
    }

    /// Creates settings.
    public init(
        remoteUser: Bool = true, assertions: [AssertionSource] = [], proxyHeaders: ProxyHeaderAuthenticator? = nil,
        serviceTokens: [ServiceToken] = []
    ) {
        self.remoteUser = remoteUser
        self.assertions = assertions
        self.proxyHeaders = proxyHeaders
        self.serviceTokens = serviceTokens
    }
}

/// The configuration file could not be used.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// Every problem found.
    public var problems: [ConfigProblem]

    /// Creates the error.
    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    /// One line per problem, `file:line: path: message`, as compilers print them, in line order.
    public var description: String {
        ConfigProblem.byLine(self.problems).map { p in
            let location = p.line.map { "\(self.file):\($0)" } ?? self.file
            return p.path.isEmpty ? "\(location): \(p.message)" : "\(location): \(p.path): \(p.message)"
        }.joined(separator: "\n")
    }
}
