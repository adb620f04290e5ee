/// An HTTP service behind lighttpd that Sluice guards as lighttpd's FastCGI authorizer (Luigi's
/// `luigid`, say): its rules map each request (method and decoded path) to a verb, and the
/// policy decides whether the caller may use that verb on it. A request no rule matches is
/// denied. Pure: no I/O.
///
/// ```swift
/// let luigi = GuardedUpstream(name: "luigi", mountPath: nil, rules: [
///     .init(methods: ["GET", "HEAD"], paths: [try PathPattern("/api/task_list")], verb: .view),
/// ])
/// luigi.match(method: "GET", target: "/api/task_list?data={}")   // .rule(index: 0, verb: .view, path: ...)
/// ```
public struct GuardedUpstream: Sendable {
    /// One mapping from requests to a verb.
    public struct Rule: Sendable, Hashable {
        /// Methods the rule covers, upper-case, compared as bytes; empty covers every method.
        public var methods: [String]
        /// Path patterns; the rule covers a path any of them matches.
        public var paths: [PathPattern]
        /// The verb a covered request needs (`view` or `operate`).
        public var verb: Verb

        /// Creates a rule.
        public init(methods: [String], paths: [PathPattern], verb: Verb) {
            self.methods = methods
            self.paths = paths
            self.verb = verb
        }

        /// Whether the rule covers `method` on `path`.
        public func covers(method: String, path: UpstreamPath) -> Bool {
            (self.methods.isEmpty || self.methods.contains { $0.utf8.elementsEqual(method.utf8) })
                && self.paths.contains { $0.matches(path) }
        }
    }

    /// What the rules say about one request.
    public enum Match: Sendable, Hashable {
        /// The first rule that covers the request, and the verb it needs.
        case rule(index: Int, verb: Verb, path: UpstreamPath)
        /// No rule covers the request: denied.
        case noRule(path: UpstreamPath)
        /// The request is not below the mount path.
        case outside
        /// The request target cannot be judged safely: denied.
        case refused(UpstreamPath.Refusal)
    }

    /// The upstream's name, as in the configuration and in grants' `upstreams`.
    public let name: String
    /// The path prefix the upstream is served under on the web server (`/luigi`), removed
    /// before rules are matched; nil when it is served at the root of its host.
    public let mountPath: String?
    /// The rules, in configuration order: the first that covers a request decides its verb.
    public let rules: [Rule]

    /// Creates an upstream.
    public init(name: String, mountPath: String?, rules: [Rule]) {
        self.name = name
        self.mountPath = mountPath
        self.rules = rules
    }

    /// What the rules say about `method` on `target` (the request target the upstream will be
    /// sent: path and query, still percent-encoded).
    public func match(method: String, target: String) -> Match {
        switch UpstreamPath.parse(target, mountPath: self.mountPath) {
        case .outside: return .outside
        case .refused(let refusal): return .refused(refusal)
        case .path(let path):
            if let index = self.rules.firstIndex(where: { $0.covers(method: method, path: path) }) {
                return .rule(index: index, verb: self.rules[index].verb, path: path)
            }
            return .noRule(path: path)
        }
    }
}
