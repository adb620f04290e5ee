import Crypto
import Foundation
import Identity
import TestSupport
import Testing

/// `ALBKeyProvider`: AWS ALB publishes one PEM per `kid` (product-anchors §5), fetched on first
/// sight with the same cooldown rule as the JWKS provider (docs/security.md, JWT checklist J22),
/// and the kid never becomes anything but a plain path segment (J9).
@Suite("ALBKeyProvider")
struct ALBKeyProviderTests {
    static let base = URL(string: "https://public-keys.auth.elb.eu-west-1.amazonaws.com")!
    static let kid = "3f2a9c1e-7b4d-4e8a-9c6f-0123456789ab"
    static let nextKid = "8d1e0f2c-5a6b-4c7d-8e9f-abcdefabcdef"
    static let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/sluice/50dc6c495c0c9188"

    struct Rig {
        let endpoint: FakeJWKSEndpoint
        let clock = TestClock(Fixture.now)
        let provider: ALBKeyProvider
        let verifier: AssertionVerifier

        /// PEMs of the named mint.py keys, served under the given kids.
        init(serving pems: [String: String]) throws {
            let minter = try Fixture.minter()
            var documents: [String: [UInt8]] = [:]
            for (kid, name) in pems { documents[kid] = Array(try minter.key(name).publicPEM.utf8) }
            self.endpoint = FakeJWKSEndpoint(.byName(documents))
            self.provider = ALBKeyProvider(
                baseURL: ALBKeyProviderTests.base, cooldown: 30, fetch: self.endpoint.fetcher, now: self.clock.function)
            var source = Fixture.source(keys: self.provider, algorithms: [.es256])
            source.signer = ALBKeyProviderTests.arn
            source.allowPadding = true
            source.userClaim = "email"
            self.verifier = AssertionVerifier(source: source, now: self.clock.function)
        }

        /// An ALB-shaped token: padded segments, signer and kid in the header.
        static func token(_ key: String = "ec1", kid: String = ALBKeyProviderTests.kid) throws -> String {
            try Fixture.token(
                key, header: ["kid": kid, "signer": ALBKeyProviderTests.arn, "client": "app-client", "iss": Fixture.issuer],
                claims: ["email": "alice@example.com", "exp": Fixture.epoch + 86_400], options: ["pad": true])
        }
    }

    @Test("A kid seen for the first time is fetched from base/kid, then kept")
    func fetchOnFirstSight() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        let token = try Rig.token()
        let assertion = try expectAccepted(rig.verifier.verify(token))
        #expect(assertion.user == "alice@example.com")
        #expect(assertion.kid == Self.kid)
        #expect(rig.endpoint.urls == [Self.base.appendingPathComponent(Self.kid)])
        rig.clock.advance(by: 86_000)
        try expectAccepted(rig.verifier.verify(token))
        #expect(rig.endpoint.calls == 1)
    }

    @Test("A second kid is fetched once the cooldown has passed; both stay usable")
    func secondKid() throws {
        let rig = try Rig(serving: [Self.kid: "ec1", Self.nextKid: "ec2"])
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        expectRefused(rig.verifier.verify(try Rig.token("ec2", kid: Self.nextKid)), .unknownKey)
        #expect(rig.endpoint.calls == 1)
        rig.clock.advance(by: 30)
        try expectAccepted(rig.verifier.verify(try Rig.token("ec2", kid: Self.nextKid)))
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        #expect(rig.endpoint.calls == 2)
    }

    @Test("A storm of unknown kids causes one fetch per cooldown")
    func unknownKidStorm() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        let model = Fixture.segments(try Rig.token())
        for index in 0..<200 {
            let header = #"{"alg":"ES256","kid":"00000000-0000-4000-8000-\#(String(format: "%012d", index))","signer":"\#(Self.arn)"}"#
            let token = Fixture.join([Base64URL.encode(Array(header.utf8)), model[1], model[2]])
            expectRefused(rig.verifier.verify(token), .unknownKey)
        }
        #expect(rig.endpoint.calls == 1)
    }

    @Test(
        "A kid that is not a plain UUID-like segment is never fetched",
        arguments: [
            "../../etc/passwd", "a/b", "%2e%2e", "kid?x=1", "kid#frag", "k id", "kid\u{0}", "ünicode", String(repeating: "a", count: 65),
        ])
    func kidNeverBecomesAPath(kid: String) throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        expectRefused(rig.verifier.verify(try Rig.token(kid: kid)), .unknownKey)
        #expect(rig.endpoint.calls == 0)
    }

    @Test(
        "An empty kid is never fetched (it would name the base URL itself)")
    func emptyKidNotFetched() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        expectRefused(rig.verifier.verify(try Rig.token(kid: "")), .unknownKey)
        #expect(rig.endpoint.calls == 0)
    }

    @Test("An RSA key published under a kid is refused (ALB signs with ES256 only)")
    func rsaKeyRefused() throws {
        let rig = try Rig(serving: [Self.kid: "rsa1"])
        expectRefused(rig.verifier.verify(try Rig.token()), .unknownKey)
        #expect(rig.endpoint.calls == 1)
    }

    @Test("A failed or garbage fetch adds nothing; a later fetch after the cooldown works")
    func failedFetch() throws {
        let rig = try Rig(serving: [:])
        rig.endpoint.serve(.byName([Self.kid: Array("not a pem".utf8)]))
        expectRefused(rig.verifier.verify(try Rig.token()), .unknownKey)
        rig.clock.advance(by: 30)
        rig.endpoint.serve(.failure)
        expectRefused(rig.verifier.verify(try Rig.token()), .unknownKey)
        rig.clock.advance(by: 30)
        rig.endpoint.serve(.byName([Self.kid: Array(try Fixture.minter().key("ec1").publicPEM.utf8)]))
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        #expect(rig.endpoint.calls == 3)
    }

    @Test("A token signed by another key under a fetched kid fails the signature")
    func wrongKey() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        expectRefused(rig.verifier.verify(try Rig.token("attacker")), .signature)
    }

    @Test(
        "Refreshing a kid that is already known does not make it ambiguous")
    func refreshKnownKid() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        let token = try Rig.token()
        try expectAccepted(rig.verifier.verify(token))
        // Reachable through the verifier: two requests take their snapshot (no such kid) at the
        // same time; the first refresh holds the lock while it fetches, and lastAttempt is the
        // fetch's start, so with a cooldown shorter than the fetch (jwks_cooldown_seconds may be
        // 1) the second refresh fetches again and appends the same kid a second time.
        rig.clock.advance(by: 30)
        _ = rig.provider.refresh(missingKid: Self.kid)
        try expectAccepted(rig.verifier.verify(token))
    }

    @Test("Before any fetch the provider holds an empty set, not nil")
    func emptyAtStart() throws {
        let rig = try Rig(serving: [Self.kid: "ec1"])
        #expect(rig.provider.current()?.keys.isEmpty == true)
        #expect(rig.endpoint.calls == 0)
    }
}
