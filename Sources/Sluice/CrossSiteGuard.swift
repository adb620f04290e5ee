import ByteStrings
import HTTP
import Identity

/// Refuses state-changing requests that a browser sent from another site with credentials it
/// attaches on its own (basic auth, cookies): the classic CSRF shape.
///
/// Browsers send `Sec-Fetch-Site` on every request and `Origin` on every cross-origin POST;
/// non-browser clients send neither and are not affected. Bearer-style credentials are never
/// ambient and skip this check. Every method that may change something is checked (POST, and
/// DELETE for `/api/v1/admin/drain`): a browser sends a cross-site DELETE only after a CORS
/// preflight Sluice never answers, but the guard does not rely on that.
enum CrossSiteGuard {
    /// Why a request was refused, or nil if it may proceed.
    static func refusal(_ request: HTTPRequest, principal: Principal?) -> String? {
        guard !["GET", "HEAD"].contains(request.method), let principal, principal.isAmbient else { return nil }
        if let site = request.header("Sec-Fetch-Site")?.lowercased() {
            return site == "same-origin" || site == "none" ? nil : "Sec-Fetch-Site is \(site)"
        }
        if let origin = request.header("Origin") {
            guard let host = request.header("Host") else { return "Origin without Host" }
            let scheme = request.params["HTTPS"]?.lowercased() == "on" ? "https" : "http"
            return origin.lowercased().bytesEqual("\(scheme)://\(host.lowercased())") ? nil : "Origin \(origin) is not this site"
        }
        return nil
    }
}
