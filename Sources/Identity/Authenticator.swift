public import HTTP

/// One identity source.
public protocol Authenticator: Sendable {
    /// Inspects the request's transport params for this source's credentials.
    func authenticate(_ request: HTTPRequest) -> AuthenticationResult
}

/// Trusts the front server's `REMOTE_USER`, set by lighttpd's mod_auth after it checked the
/// password. A client cannot forge it: request headers arrive as `HTTP_*` params, so
/// `HTTP_REMOTE_USER` (a `Remote-User` header) is deliberately never read.
public struct RemoteUserAuthenticator: Authenticator {
    /// Creates the authenticator.
    public init() {}

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        // nginx sends REMOTE_USER= (empty) when nobody authenticated: empty means absent.
        guard let user = request.params["REMOTE_USER"], !user.isEmpty else { return .absent }
        guard GroupList.isAcceptableName(user) else {
            return .invalid(
                .init(.remoteUser, .unusableValue, "REMOTE_USER contains control characters, is too long or is not in Unicode NFC"))
        }
        let authType = request.params["AUTH_TYPE"]?.lowercased()
        return .authenticated(
            Principal(user: user, source: .remoteUser, isAmbient: authType == nil || authType == "basic" || authType == "digest"))
    }
}

/// Tries identity sources in order. The first source that finds credentials decides: valid
/// credentials authenticate, invalid ones end with `.invalid`; only `.absent` moves on.
public struct AuthenticatorChain: Authenticator {
    private let sources: [any Authenticator]

    /// Creates a chain from sources, strongest first.
    public init(_ sources: [any Authenticator]) { self.sources = sources }

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        for source in self.sources {
            let result = source.authenticate(request)
            if case .absent = result { continue }
            return result
        }
        return .absent
    }
}
