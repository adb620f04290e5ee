import Crypto
public import HTTP

/// Authenticates a request by the signed assertion in the source's header. A present but invalid
/// assertion is `.invalid`: it never falls through to a weaker source. The log reason carries at
/// most a SHA-256 prefix of the token, never the token (docs/security.md, JWT checklist J24).
public struct AssertionAuthenticator: Authenticator {
    /// The verifier for this source.
    public let verifier: AssertionVerifier

    /// Creates the authenticator.
    public init(verifier: AssertionVerifier) { self.verifier = verifier }

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        let source = self.verifier.source
        let token: String
        let isAmbient: Bool
        if source.header.lowercased() == "authorization" {
            guard let bearer = BearerToken.value(in: request), !bearer.hasPrefix(ServiceToken.prefix) else { return .absent }
            token = bearer
            isAmbient = false
        } else {
            guard let value = request.header(source.header), !value.isEmpty else { return .absent }
            token = value
            // Identity-aware proxies put the assertion on every request from the browser's cookie.
            isAmbient = true
        }
        switch self.verifier.verify(token) {
        case .success(let assertion):
            return .authenticated(
                Principal(
                    user: assertion.user, groups: assertion.groups, source: .assertion, isAmbient: isAmbient, sourceName: source.name))
        case .failure(let error):
            let tag = Hex.encode(SHA256.hash(Array(token.utf8)).prefix(4))
            return .invalid(
                .init(.assertion, .assertion(error.code), "assertion source \(source.name): \(error) (token sha256 prefix \(tag))"))
        }
    }
}
