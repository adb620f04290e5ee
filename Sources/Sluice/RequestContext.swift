import HTTP
import Identity
import Pages
import Policy

/// What a route handler that needs identity gets: the request, its route parameters, the
/// authenticated caller, where Sluice is mounted, and the one configuration snapshot the whole
/// request is decided under.
struct RequestContext {
    /// The request.
    var request: HTTPRequest
    /// Values of the route's `:name` segments, decoded (and in Unicode NFC: dispatch refuses others).
    var parameters: [String: String]
    /// The decoded query parameters, parsed once (and in Unicode NFC: dispatch refuses others).
    var query: [String: String]
    /// The authenticated caller. Not optional: routes without identity get a `PublicContext`.
    var caller: Principal
    /// The caller as the policy sees it (names and groups as bytes), built once per request:
    /// a request asks the policy several times (visibility, the verb, links to show).
    var subject: Subject
    /// The public mount path for links (no trailing slash).
    var mountPath: String
    /// Whether the route is part of the JSON API (errors render as JSON).
    var isAPI: Bool
    /// A short id for correlating the response with log lines.
    var requestID: String
    /// The configuration, policy and limiters this request is decided under, taken once.
    let snapshot: ConfigurationSnapshot

    /// The configuration this request is decided under.
    var configuration: Configuration { self.snapshot.configuration }

    /// The page layout for this request.
    var layout: Layout {
        Layout(mountPath: self.mountPath, user: self.caller.user, showsAudit: self.mayReadAudit)
    }

    /// Whether the caller may read some of the audit log: `audit` on `*` or on any pipeline
    /// (what `App.auditScope` lets through).
    var mayReadAudit: Bool { self.mayAuditEverything || !self.auditablePipelines.lazy.isEmpty }

    /// Whether `audit` is granted on `*`: every record, those about no pipeline included.
    var mayAuditEverything: Bool { self.snapshot.policy.decide(self.subject, .audit, pipeline: "*").isAllowed }

    /// The pipelines whose audit records the caller may read, in name order.
    var auditablePipelines: LazyFilterSequence<[String]> {
        let policy = self.snapshot.policy
        let subject = self.subject
        return self.configuration.pipelineNames.lazy.filter { policy.decide(subject, .audit, pipeline: $0).isAllowed }
    }

    /// A route parameter that the router guarantees to be present.
    func parameter(_ name: String) -> String { self.parameters[name] ?? "" }
}

/// What a route handler without identity gets (`/healthz`, static files, the OpenAPI document).
struct PublicContext {
    /// The request.
    var request: HTTPRequest
    /// Values of the route's `:name` segments, decoded.
    var parameters: [String: String]
    /// The public mount path for links (no trailing slash).
    var mountPath: String
    /// The configuration snapshot taken for this request.
    let snapshot: ConfigurationSnapshot

    /// A route parameter that the router guarantees to be present.
    func parameter(_ name: String) -> String { self.parameters[name] ?? "" }
}
