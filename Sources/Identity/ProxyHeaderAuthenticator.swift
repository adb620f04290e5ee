public import HTTP

/// Trusts identity headers set by a proxy (oauth2-proxy style `X-Forwarded-User` and
/// `X-Forwarded-Groups`), but only when the request's peer (`REMOTE_ADDR`) is a configured proxy
/// address. From any other peer the headers are ignored as if absent: they are the client's words.
///
/// Do not combine with lighttpd's mod_extforward: it rewrites `REMOTE_ADDR` to the client's address.
public struct ProxyHeaderAuthenticator: Authenticator {
    /// The header carrying the user name, e.g. `X-Forwarded-User`.
    public let userHeader: String
    /// The header carrying groups, if any.
    public let groupsHeader: String?
    /// Peers allowed to set these headers.
    public let trustedPeers: [IPRange]

    /// Creates the authenticator.
    public init(userHeader: String, groupsHeader: String?, trustedPeers: [IPRange]) {
        self.userHeader = userHeader
        self.groupsHeader = groupsHeader
        self.trustedPeers = trustedPeers
    }

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        guard let peer = request.params["REMOTE_ADDR"], self.trustedPeers.contains(where: { $0.contains(peer) }) else {
            return .absent
        }
        guard let user = request.header(self.userHeader), !user.isEmpty else { return .absent }
        // lighttpd joins repeated header lines with ", ", so a comma means a client-sent copy got
        // through next to the proxy's own: refuse rather than guess which one is real.
        guard GroupList.isAcceptableName(user), !user.contains(",") else {
            return .invalid(.init(.proxyHeaders, .unusableValue, "\(self.userHeader) holds several values or control characters"))
        }
        var groups: Set<String> = []
        if let name = self.groupsHeader, let value = request.header(name) {
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .invalid(.init(.proxyHeaders, .unusableValue, "\(name) contains control characters"))
            }
            let items = GroupList.parse(value)
            guard items.allSatisfy(GroupList.isAcceptableName) else {
                return .invalid(.init(.proxyHeaders, .unusableValue, "\(name) holds an unusable group name"))
            }
            groups = Set(items)
        }
        return .authenticated(Principal(user: user, groups: groups, source: .proxyHeaders, isAmbient: true))
    }
}
