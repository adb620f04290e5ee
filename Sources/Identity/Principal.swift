public import ByteStrings

/// An authenticated caller.
public struct Principal: Sendable, Hashable {
    /// Where the identity came from.
    public enum Source: String, Sendable, Hashable {
        /// lighttpd's own authentication (`REMOTE_USER`).
        case remoteUser = "remote_user"
        /// Headers set by a trusted proxy (oauth2-proxy style).
        case proxyHeaders = "proxy_headers"
        /// A signed identity assertion (JWT) verified against a JWKS.
        case assertion = "assertion"
        /// A configured service token (`Authorization: Bearer slc_…`).
        case serviceToken = "service_token"
    }

    /// The user name.
    public var user: String
    /// The caller's groups (empty for sources that carry none).
    public var groups: Set<String>
    /// The source that vouched for the identity.
    public var source: Source
    /// Whether the credentials are sent by the browser on its own (basic auth, cookies), which
    /// makes state-changing requests subject to cross-site checks.
    public var isAmbient: Bool
    /// Roles assigned directly by the source's configuration (service tokens); never from claims.
    /// Kept as the policy compares them (bytes), so no request converts them.
    public var roles: Set<ByteString>
    /// Which configured source vouched (the assertion source's or token's name), for explanations.
    public var sourceName: String?

    /// Creates a principal.
    public init(
        user: String, groups: Set<String> = [], source: Source, isAmbient: Bool, roles: Set<ByteString> = [], sourceName: String? = nil
    ) {
        self.user = user
        self.groups = groups
        self.source = source
        self.isAmbient = isAmbient
        self.roles = roles
        self.sourceName = sourceName
    }
}

/// What an authenticator concluded about a request.
public enum AuthenticationResult: Sendable, Hashable {
    /// The request carries valid credentials of this source.
    case authenticated(Principal)
    /// The request carries no credentials of this source; the next source may look.
    case absent
    /// Credentials of this source are present but invalid. This ends authentication with a 401:
    /// it never falls through to a weaker source. The failure's details are for the log, never
    /// the client.
    case invalid(AuthenticationFailure)
}
