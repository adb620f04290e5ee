import HTTP
import Identity
import Pages

/// What a route handler gets: the request, its route parameters, the caller, and where Sluice
/// is mounted.
struct RequestContext {
    /// The request.
    var request: HTTPRequest
    /// Values of the route's `:name` segments, decoded.
    var parameters: [String: String]
    /// The authenticated caller (nil only on routes that need no identity).
    var principal: Principal?
    /// The public mount path for links (no trailing slash).
    var mountPath: String
    /// Whether the route is part of the JSON API (errors render as JSON).
    var isAPI: Bool
    /// A short id for correlating the response with log lines.
    var requestID: String

    /// The caller; routes that need identity are only reached with one.
    var caller: Principal {
        guard let principal else { preconditionFailure("route requires identity but was reached without one") }
        return principal
    }

    /// The page layout for this request.
    var layout: Layout { Layout(mountPath: self.mountPath, user: self.principal?.user) }

    /// A route parameter that the router guarantees to be present.
    func parameter(_ name: String) -> String { self.parameters[name] ?? "" }
}
