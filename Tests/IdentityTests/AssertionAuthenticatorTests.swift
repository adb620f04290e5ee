import Crypto
import Foundation
import HTTP
import Identity
import Testing

/// `AssertionAuthenticator`: where the token is read from, what a failure reveals
/// (docs/security.md, JWT checklist J24), and the principal it builds.
@Suite("AssertionAuthenticator")
struct AssertionAuthenticatorTests {
    static let param = "HTTP_X_TEST_ASSERTION"

    func authenticator(header: String = Fixture.assertionHeader) throws -> AssertionAuthenticator {
        AssertionAuthenticator(verifier: try Fixture.verifier { $0.header = header })
    }

    @Test("No assertion header means absent")
    func headerAbsent() throws {
        let result = try authenticator().authenticate(Fixture.request(["REMOTE_ADDR": "10.0.0.1"]))
        #expect(result == .absent)
    }

    @Test("An empty assertion header means absent")
    func headerEmpty() throws {
        let result = try authenticator().authenticate(Fixture.request([Self.param: ""]))
        #expect(result == .absent)
    }

    @Test("A valid assertion in the custom header authenticates an ambient principal")
    func validCustomHeader() throws {
        let token = try Fixture.token(claims: ["sub": "alice@example.com", "groups": ["ops", "dev"]])
        let result = try authenticator().authenticate(Fixture.request([Self.param: token]))
        guard case .authenticated(let principal) = result else {
            Issue.record("expected authenticated, got \(result)")
            return
        }
        #expect(principal.user == "alice@example.com")
        #expect(principal.groups == ["ops", "dev"])
        #expect(principal.source == .assertion)
        #expect(principal.sourceName == "test-idp")
        #expect(principal.isAmbient == true)
        #expect(principal.roles.isEmpty)
    }

    @Test("A present but invalid assertion is invalid; the reason has a SHA-256 prefix and not the token")
    func invalidReasonRedacted() throws {
        let token = try Fixture.token(options: ["tamper_payload": Fixture.claims(["sub": "admin"])])
        let result = try authenticator().authenticate(Fixture.request([Self.param: token]))
        guard case .invalid(let failure) = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
        let reason = failure.detail
        #expect(failure.source == .assertion && failure.reason.name == "signature", "\(failure.source) \(failure.reason)")
        let prefix = Hex.encode(SHA256.hash(Array(token.utf8)).prefix(4))
        #expect(reason.contains(prefix), "\(reason)")
        #expect(reason.contains("signature"), "\(reason)")
        #expect(reason.contains("test-idp"), "\(reason)")
        #expect(!reason.contains(token))
        for segment in Fixture.segments(token) { #expect(!reason.contains(segment), "\(reason)") }
    }

    @Test("Garbage in the assertion header is invalid, never absent, and is not echoed")
    func garbageIsInvalid() throws {
        let garbage = "not-a-jwt-but-a-secret-value"
        let result = try authenticator().authenticate(Fixture.request([Self.param: garbage]))
        guard case .invalid(let failure) = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
        let reason = failure.detail
        #expect(!reason.contains(garbage))
        #expect(reason.contains(Hex.encode(SHA256.hash(Array(garbage.utf8)).prefix(4))))
    }

    @Test("Two assertion headers, joined by lighttpd with \", \", are invalid")
    func joinedAssertionHeaders() throws {
        let token = try Fixture.token()
        let other = try Fixture.token(claims: ["sub": "admin"])
        let result = try authenticator().authenticate(Fixture.request([Self.param: "\(token), \(other)"]))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test("An Authorization source reads Bearer tokens and builds a non-ambient principal")
    func authorizationSource() throws {
        let token = try Fixture.token()
        let result = try authenticator(header: "Authorization").authenticate(Fixture.request(["HTTP_AUTHORIZATION": "Bearer \(token)"]))
        guard case .authenticated(let principal) = result else {
            Issue.record("expected authenticated, got \(result)")
            return
        }
        #expect(principal.user == "alice")
        #expect(principal.source == .assertion)
        #expect(principal.sourceName == "test-idp")
        #expect(principal.isAmbient == false)
    }

    @Test("An Authorization source leaves Bearer slc_ tokens to the service-token source")
    func authorizationIgnoresServiceTokens() throws {
        let result = try authenticator(header: "Authorization").authenticate(
            Fixture.request(["HTTP_AUTHORIZATION": "Bearer \(ServiceToken.generate())"]))
        #expect(result == .absent)
    }

    @Test("An Authorization source ignores other schemes and a missing header")
    func authorizationOtherSchemes() throws {
        let authenticator = try authenticator(header: "Authorization")
        let token = try Fixture.token()
        #expect(authenticator.authenticate(Fixture.request([:])) == .absent)
        #expect(authenticator.authenticate(Fixture.request(["HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0"])) == .absent)
        #expect(authenticator.authenticate(Fixture.request(["HTTP_AUTHORIZATION": token])) == .absent)
        // The custom header of the other source is not read by the Authorization source.
        #expect(authenticator.authenticate(Fixture.request([Self.param: token])) == .absent)
    }

    @Test("An Authorization source treats an invalid Bearer JWT as invalid")
    func authorizationInvalid() throws {
        let token = try Fixture.token(claims: ["aud": "someone-else"])
        let result = try authenticator(header: "Authorization").authenticate(Fixture.request(["HTTP_AUTHORIZATION": "Bearer \(token)"]))
        guard case .invalid(let failure) = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
        let reason = failure.detail
        #expect(!reason.contains(token))
    }

    @Test("A custom header source does not read Authorization")
    func customHeaderIgnoresAuthorization() throws {
        let token = try Fixture.token()
        #expect(try authenticator().authenticate(Fixture.request(["HTTP_AUTHORIZATION": "Bearer \(token)"])) == .absent)
    }
}
