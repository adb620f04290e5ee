import HTTP

/// Which request parameters must come once: a repeated one is refused (400) instead of merged
/// (`HTTPRequest.mergingRepeatedParams`).
///
/// Those that an access decision, a credential or a uniqueness rule reads: every CGI variable
/// that is not a header (`REMOTE_USER`, `CONTENT_TYPE`, `REQUEST_URI`, ...), the credential and
/// same-origin headers (`Authorization`, `Cookie`, `Origin`, `Referer`, `Host`, `Sec-Fetch-*`),
/// the headers a proxy speaks for the client with (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`),
/// `Idempotency-Key`, the body's framing, and every header the configured identity sources read
/// (an assertion's header, the trusted proxy's user and groups headers). Any other header sent
/// twice is merged as HTTP does (`Accept` on two lines, say, as nginx and HAProxy pass them).
/// Names compare as bytes.
enum RepeatedParams {
    /// Header params that must come once whatever the configuration.
    static let fixed: Set<[UInt8]> = Set(
        [
            "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE", "HTTP_ORIGIN", "HTTP_REFERER", "HTTP_HOST",
            "HTTP_IDEMPOTENCY_KEY", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH",
            "HTTP_TRANSFER_ENCODING",
        ].map { Array($0.utf8) })

    /// Header param prefixes that must come once.
    static let prefixes: [[UInt8]] = ["HTTP_SEC_FETCH_", "HTTP_X_FORWARDED_"].map { Array($0.utf8) }

    /// Whether param `name` must come once, given the identity sources in force.
    static func mustBeSingle(_ name: String, identity: IdentitySettings) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.starts(with: "HTTP_".utf8) else { return true }
        if Self.fixed.contains(bytes) || Self.prefixes.contains(where: { bytes.starts(with: $0) }) { return true }
        return identity.headerNames.contains { HTTPRequest.paramName(ofHeader: $0).utf8.elementsEqual(bytes) }
    }
}
