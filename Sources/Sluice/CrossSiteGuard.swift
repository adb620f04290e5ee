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
    /// - Parameter everyMethod: check GET and HEAD too (a guarded upstream that changes state
    ///   on GET, as Luigi's API does); otherwise they pass.
    static func refusal(_ request: HTTPRequest, principal: Principal?, everyMethod: Bool = false) -> String? {
        guard everyMethod || !["GET", "HEAD"].contains(request.method), let principal, principal.isAmbient else { return nil }
        if let site = request.header("Sec-Fetch-Site").map(Self.asciiLowercased) {
            return site.bytesEqual("same-origin") || site.bytesEqual("none") ? nil : "Sec-Fetch-Site is \(site)"
        }
        if let origin = request.header("Origin") {
            guard let host = request.header("Host") else { return "Origin without Host" }
            let https = request.params["HTTPS"]?.lowercased() == "on"
            let same = Self.isSameOrigin(origin, host: host, https: https, serverPort: request.params["SERVER_PORT"])
            return same ? nil : "Origin \(origin) is not this site"
        }
        return nil
    }

    /// Whether `origin` (`scheme://host[:port]`) names this site: the scheme of this request,
    /// the host of its `Host` header, and the same port, a missing port meaning the scheme's
    /// default. `Host` without a port takes `SERVER_PORT` (the front server's own port): nginx's
    /// Debian `fastcgi_params` pass `HTTP_HOST` as `$host`, which drops the port a browser sent,
    /// so `Origin: http://host:8080` must still match `Host: host` on port 8080. Host names
    /// compare as ASCII case-insensitive bytes.
    static func isSameOrigin(_ origin: String, host: String, https: Bool, serverPort: String?) -> Bool {
        let scheme = https ? "https" : "http"
        let defaultPort = https ? 443 : 80
        guard let (originScheme, originHost, originPort) = Self.split(Self.asciiLowercased(origin), afterScheme: true),
            originScheme.bytesEqual(scheme)
        else { return false }
        guard let (_, ownHost, ownPort) = Self.split(Self.asciiLowercased(host), afterScheme: false) else { return false }
        let expectedPort = ownPort ?? serverPort.flatMap { Int($0) } ?? defaultPort
        return originHost.bytesEqual(ownHost) && (originPort ?? defaultPort) == expectedPort
    }

    /// `text` with A-Z lowered and every other byte kept. Not `lowercased()`: Unicode case
    /// mapping turns the Kelvin sign (U+212A) into an ASCII `k`, so another host name would match.
    private static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// `scheme://host[:port]` (or `host[:port]`) into its parts; a bracketed IPv6 host keeps its
    /// brackets. Nil for anything else (a path, user info, a port that is not a number).
    private static func split(_ text: String, afterScheme: Bool) -> (scheme: String, host: String, port: Int?)? {
        var rest = Substring(text)
        var scheme = ""
        if afterScheme {
            guard let separator = rest.range(of: "://") else { return nil }
            scheme = String(rest[..<separator.lowerBound])
            rest = rest[separator.upperBound...]
        }
        guard !rest.isEmpty, !rest.contains(where: { $0 == "/" || $0 == "@" || $0 == "?" || $0 == "#" }) else { return nil }
        var hostPart = rest
        var port: Int? = nil
        let closing = rest.lastIndex(of: "]")
        if let colon = rest.lastIndex(of: ":"), closing.map({ colon > $0 }) ?? true {
            let digits = rest[rest.index(after: colon)...]
            guard !digits.isEmpty, digits.utf8.count <= 5, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(digits),
                number <= 65535
            else { return nil }
            port = number
            hostPart = rest[..<colon]
        }
        guard !hostPart.isEmpty else { return nil }
        return (scheme, String(hostPart), port)
    }
}
