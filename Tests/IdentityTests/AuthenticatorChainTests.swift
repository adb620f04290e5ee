import Crypto
import HTTP
import Identity
import Testing

/// `AuthenticatorChain` and `RemoteUserAuthenticator`: invalid credentials end authentication,
/// only absent ones move on to the next (weaker) source.
@Suite("AuthenticatorChain")
struct AuthenticatorChainTests {
    static let serviceToken = ServiceToken.generate()

    /// Service tokens, a Bearer-JWT source, a header-JWT source, proxy headers, then REMOTE_USER.
    func chain() throws -> AuthenticatorChain {
        let keys = StaticKeyProvider(try Fixture.keySet(["ec1", "rsa1"]))
        var bearerSource = Fixture.source(keys: keys)
        bearerSource.header = "Authorization"
        bearerSource.name = "bearer-idp"
        return AuthenticatorChain([
            ServiceTokenAuthenticator(
                tokens: [ServiceToken(name: "ci", digest: SHA256.hash(Array(Self.serviceToken.utf8)), roles: ["deployer"], expires: nil)],
                now: { Fixture.now }),
            AssertionAuthenticator(verifier: AssertionVerifier(source: bearerSource, now: { Fixture.now })),
            AssertionAuthenticator(verifier: AssertionVerifier(source: Fixture.source(keys: keys), now: { Fixture.now })),
            ProxyHeaderAuthenticator(userHeader: "X-Forwarded-User", groupsHeader: nil, trustedPeers: [IPRange("127.0.0.1")!]),
            RemoteUserAuthenticator(),
        ])
    }

    func user(_ result: AuthenticationResult) -> (String, Principal.Source)? {
        guard case .authenticated(let principal) = result else { return nil }
        return (principal.user, principal.source)
    }

    func isInvalid(_ result: AuthenticationResult) -> Bool {
        if case .invalid = result { return true }
        return false
    }

    @Test("An unknown service token stops the chain: REMOTE_USER is never consulted")
    func invalidServiceTokenStops() throws {
        let result = try chain().authenticate(
            Fixture.request([
                "HTTP_AUTHORIZATION": "Bearer \(ServiceToken.generate())", "REMOTE_USER": "alice",
            ]))
        #expect(isInvalid(result), "\(result)")
    }

    @Test("An invalid Bearer JWT stops the chain")
    func invalidBearerJWTStops() throws {
        let token = try Fixture.token(options: ["tamper_signature": true])
        let result = try chain().authenticate(Fixture.request(["HTTP_AUTHORIZATION": "Bearer \(token)", "REMOTE_USER": "alice"]))
        #expect(isInvalid(result), "\(result)")
    }

    @Test("An invalid assertion header stops the chain, even with trusted proxy headers and REMOTE_USER")
    func invalidAssertionHeaderStops() throws {
        let token = try Fixture.token(claims: ["exp": Fixture.epoch - 3600])
        let result = try chain().authenticate(
            Fixture.request([
                AssertionAuthenticatorTests.param: token, "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_USER": "bob",
                "REMOTE_USER": "alice",
            ]))
        #expect(isInvalid(result), "\(result)")
    }

    @Test("Invalid proxy headers stop the chain")
    func invalidProxyHeadersStop() throws {
        let result = try chain().authenticate(
            Fixture.request([
                "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_USER": "bob, admin", "REMOTE_USER": "alice",
            ]))
        #expect(isInvalid(result), "\(result)")
    }

    @Test("Absent sources move on to REMOTE_USER")
    func absentMovesOn() throws {
        let result = try chain().authenticate(
            Fixture.request([
                "REMOTE_USER": "alice", "AUTH_TYPE": "Basic", "REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_USER": "mallory",
                "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
            ]))
        let found = try #require(user(result))
        #expect(found.0 == "alice")
        #expect(found.1 == .remoteUser)
    }

    @Test("The first source with valid credentials decides")
    func firstValidDecides() throws {
        let chain = try chain()
        let service = try #require(
            user(
                chain.authenticate(
                    Fixture.request([
                        "HTTP_AUTHORIZATION": "Bearer \(Self.serviceToken)", "REMOTE_USER": "alice",
                    ]))))
        #expect(service.0 == "token:ci")
        let bearer = try #require(
            user(
                chain.authenticate(
                    Fixture.request([
                        "HTTP_AUTHORIZATION": "Bearer \(try Fixture.token(claims: ["sub": "carol"]))", "REMOTE_USER": "alice",
                    ]))))
        #expect(bearer.0 == "carol")
        #expect(bearer.1 == .assertion)
        let proxy = try #require(
            user(
                chain.authenticate(
                    Fixture.request([
                        "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_USER": "bob", "REMOTE_USER": "alice",
                    ]))))
        #expect(proxy.0 == "bob")
        #expect(proxy.1 == .proxyHeaders)
    }

    @Test("Nothing at all is absent")
    func nothingIsAbsent() throws {
        #expect(try chain().authenticate(Fixture.request(["REMOTE_ADDR": "192.0.2.1"])) == .absent)
        #expect(AuthenticatorChain([]).authenticate(Fixture.request([:])) == .absent)
    }

    @Test("REMOTE_USER: a client-sent Remote-User header is never read; empty means absent")
    func remoteUser() {
        let authenticator = RemoteUserAuthenticator()
        #expect(authenticator.authenticate(Fixture.request(["HTTP_REMOTE_USER": "admin"])) == .absent)
        #expect(authenticator.authenticate(Fixture.request(["REMOTE_USER": ""])) == .absent)
        #expect(isInvalid(authenticator.authenticate(Fixture.request(["REMOTE_USER": "alice\nadmin"]))))
        guard case .authenticated(let basic) = authenticator.authenticate(Fixture.request(["REMOTE_USER": "alice", "AUTH_TYPE": "Basic"]))
        else {
            Issue.record("expected authenticated")
            return
        }
        #expect(basic.isAmbient == true)
        #expect(basic.source == .remoteUser)
    }
}
