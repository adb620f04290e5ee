import ByteStrings
import HTTP
import Identity

/// Refuses state-changing requests that a browser sent from another site with credentials it
/// attaches on its own (basic auth, cookies): the classic CSRF shape.
///
/// Browsers send `Sec-Fetch-Site` on every request and `Origin` on every cross-origin POST;
/// non-browser clients send neither and are not affected. Bearer-style credentials (coming with
/// the identity issue) are never ambient and skip this check.
enum CrossSiteGuard {
    /// Why a request was refused, or nil if it may proceed.
    static func refusal(_ request: HTTPRequest, principal: Principal?) -> String? {
        guard request.method == "POST", let principal, principal.isAmbient else { return nil }
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
