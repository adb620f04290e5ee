import Crypto
import Foundation
import HTTP
import Identity
import Testing

/// `ServiceToken` and `ServiceTokenAuthenticator` (security.md §1, static service tokens).
@Suite("ServiceTokenAuthenticator")
struct ServiceTokenAuthenticatorTests {
    static let deployToken = ServiceToken.generate()
    static let reportToken = ServiceToken.generate()

    static let entries = [
        ServiceToken(name: "deploy", digest: SHA256.hash(Array(deployToken.utf8)), roles: ["deployer", "viewer"], expires: nil),
        ServiceToken(
            name: "report", digest: SHA256.hash(Array(reportToken.utf8)), roles: ["viewer"],
            expires: Fixture.now.addingTimeInterval(3600)),
    ]

    func authenticator(now: Date = Fixture.now) -> ServiceTokenAuthenticator {
        ServiceTokenAuthenticator(tokens: Self.entries, now: { now })
    }

    func bearer(_ value: String) -> HTTPRequest { Fixture.request(["HTTP_AUTHORIZATION": value]) }

    @Test("generate() gives slc_ and 256 random bits in base64url, different every time")
    func generate() throws {
        let a = ServiceToken.generate()
        let b = ServiceToken.generate()
        #expect(a != b)
        for token in [a, b] {
            #expect(token.hasPrefix("slc_"))
            let body = token.dropFirst(4)
            #expect(body.count >= 43)
            #expect(body.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            #expect(try #require(Base64URL.decode(body)).count == 32)
        }
        #expect(Set((0..<100).map { _ in ServiceToken.generate() }).count == 100)
    }

    @Test("A configured token is found by its SHA-256 digest and yields token:NAME with its roles")
    func knownToken() throws {
        let result = authenticator().authenticate(bearer("Bearer \(Self.deployToken)"))
        guard case .authenticated(let principal) = result else {
            Issue.record("expected authenticated, got \(result)")
            return
        }
        #expect(principal.user == "token:deploy")
        #expect(principal.roles == ["deployer", "viewer"])
        #expect(principal.source == .serviceToken)
        #expect(principal.sourceName == "deploy")
        #expect(principal.isAmbient == false)
        #expect(principal.groups.isEmpty)
    }

    @Test("Each token maps to its own entry; the Bearer scheme is case-insensitive")
    func secondToken() throws {
        let result = authenticator().authenticate(bearer("bearer \(Self.reportToken)"))
        guard case .authenticated(let principal) = result else {
            Issue.record("expected authenticated, got \(result)")
            return
        }
        #expect(principal.user == "token:report")
        #expect(principal.roles == ["viewer"])
    }

    @Test("An unknown slc_ token is invalid, and the reason does not contain it")
    func unknownToken() {
        let unknown = ServiceToken.generate()
        let result = authenticator().authenticate(bearer("Bearer \(unknown)"))
        guard case .invalid(let failure) = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
        let reason = failure.detail
        #expect(failure.source == .serviceToken && failure.reason == .unknownToken, "\(failure.reason)")
        #expect(!reason.contains(unknown))
        #expect(!reason.contains(String(unknown.dropFirst(4).prefix(8))))
        #expect(reason.contains(Hex.encode(SHA256.hash(Array(unknown.utf8)).prefix(4))))
    }

    @Test("A near miss of a configured token is invalid")
    func nearMiss() {
        var altered = Array(Self.deployToken)
        altered[altered.count - 1] = altered.last == "A" ? "B" : "A"
        let result = authenticator().authenticate(bearer("Bearer \(String(altered))"))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test("An expired token is invalid; one second before expiry it is accepted")
    func expiredToken() {
        let expiry = Fixture.now.addingTimeInterval(3600)
        guard case .invalid(let failure) = authenticator(now: expiry).authenticate(bearer("Bearer \(Self.reportToken)")) else {
            Issue.record("expected invalid at the expiry instant")
            return
        }
        let reason = failure.detail
        #expect(failure.reason == .tokenExpired, "\(failure.reason)")
        #expect(reason.contains("expired"))
        #expect(!reason.contains(Self.reportToken))
        guard case .authenticated = authenticator(now: expiry.addingTimeInterval(-1)).authenticate(bearer("Bearer \(Self.reportToken)"))
        else {
            Issue.record("expected authenticated before expiry")
            return
        }
    }

    @Test("A Bearer value without the slc_ prefix is absent (left to assertion sources)")
    func nonPrefixedBearer() throws {
        let authenticator = authenticator()
        #expect(authenticator.authenticate(bearer("Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")) == .absent)
        #expect(authenticator.authenticate(bearer("Bearer \(Self.deployToken.dropFirst(4))")) == .absent)
        #expect(authenticator.authenticate(bearer("Bearer SLC_\(Self.deployToken.dropFirst(4))")) == .absent)
    }

    @Test("Basic and other schemes, or no Authorization header, are absent")
    func otherSchemes() {
        let authenticator = authenticator()
        #expect(authenticator.authenticate(bearer("Basic \(Data("token:\(Self.deployToken)".utf8).base64EncodedString())")) == .absent)
        #expect(authenticator.authenticate(bearer("Token \(Self.deployToken)")) == .absent)
        #expect(authenticator.authenticate(bearer(Self.deployToken)) == .absent)
        #expect(authenticator.authenticate(bearer("Bearer")) == .absent)
        #expect(authenticator.authenticate(Fixture.request([:])) == .absent)
        // The token in another header is not a credential.
        #expect(authenticator.authenticate(Fixture.request(["HTTP_X_API_TOKEN": Self.deployToken])) == .absent)
    }

    @Test("BearerToken trims surrounding spaces of the value")
    func bearerTrimming() {
        #expect(BearerToken.value(in: bearer("Bearer   abc  ")) == "abc")
        #expect(BearerToken.value(in: bearer("BEARER abc")) == "abc")
        #expect(BearerToken.value(in: bearer("Basic abc")) == nil)
        #expect(BearerToken.value(in: Fixture.request([:])) == nil)
        // Leading spaces, any case of the scheme, a tab inside the value's padding.
        #expect(BearerToken.value(in: bearer("  bEaReR \tabc\t")) == "abc")
        #expect(BearerToken.value(in: bearer("Bearer x y")) == "x y")
        // No space after the scheme: not a Bearer credential at all.
        #expect(BearerToken.value(in: bearer("Bearer")) == nil)
        #expect(BearerToken.value(in: bearer("Bearerabc")) == nil)
        #expect(BearerToken.value(in: bearer("Bearer\tabc")) == nil)
        #expect(BearerToken.value(in: bearer("Bearr abc")) == nil)
        // A scheme and nothing after it: present and empty (refused by whoever reads it, not absent).
        #expect(BearerToken.value(in: bearer("Bearer ")) == "")
        #expect(BearerToken.value(in: bearer("Bearer  \t ")) == "")
    }

    @Test("A token whose prefix is followed by a combining mark still counts as a service token (bytes, not Characters)")
    func prefixAsBytes() {
        let result = authenticator().authenticate(bearer("Bearer slc_\u{0301}abc"))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }
}
