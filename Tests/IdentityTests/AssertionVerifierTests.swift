import Crypto
import Foundation
import Identity
import Locking
import Synchronization
import TestSupport
import Testing

/// Structure, algorithm, key selection and signature (docs/security.md, JWT checklist J1–J10,
/// J15–J17). Every token comes from mint.py; the verifier's clock is pinned to `Fixture.now`.
@Suite("Assertion verification: structure, algorithm, key and signature")
struct AssertionVerifierTests {
    // MARK: Valid tokens

    @Test("A valid ES256 token from the independent minter is accepted")
    func validES256() throws {
        let token = try Fixture.token("ec1", claims: ["groups": ["ops"]])
        let assertion = try expectAccepted(try Fixture.verifier().verify(token))
        #expect(assertion.user == "alice")
        #expect(assertion.algorithm == .es256)
        #expect(assertion.kid == "ec-1")
        #expect(assertion.groups == ["ops"])
        #expect(assertion.claims["iss"] == .string(Fixture.issuer))
    }

    @Test("A valid RS256 token from the independent minter is accepted")
    func validRS256() throws {
        let token = try Fixture.token("rsa1")
        let assertion = try expectAccepted(try Fixture.verifier().verify(token))
        #expect(assertion.user == "alice")
        #expect(assertion.algorithm == .rs256)
        #expect(assertion.kid == "rsa-1")
    }

    // MARK: Algorithm (J5, J6)

    @Test("alg none without a signature is refused as malformed (empty third part)")
    func algNoneUnsigned() throws {
        let token = try Fixture.token("ec1", header: ["alg": "none", "kid": nil], options: ["sign": "none"])
        #expect(token.hasSuffix("."))
        expectRefused(try Fixture.verifier().verify(token), .malformed)
    }

    @Test("alg none carrying signature bytes is refused by the algorithm allow-list")
    func algNoneWithSignature() throws {
        let token = try Fixture.token("ec1", header: ["alg": "none"], options: ["sign": "ES256"])
        expectRefused(try Fixture.verifier().verify(token), .algorithm)
    }

    @Test("alg NoNe (mixed case) is refused by the algorithm allow-list")
    func algNoneMixedCase() throws {
        let token = try Fixture.token("ec1", header: ["alg": "NoNe"], options: ["sign": "ES256"])
        expectRefused(try Fixture.verifier().verify(token), .algorithm)
    }

    @Test("HS256 keyed with the RSA public key's PEM (RS/HS confusion) is refused")
    func hs256WithPublicKeyPEM() throws {
        let token = try Fixture.token("rsa1", header: ["alg": "HS256"], options: ["sign": "HS256", "hmac_secret_of": "rsa1"])
        expectRefused(try Fixture.verifier().verify(token), .algorithm)
    }

    @Test("HS256 keyed with the public JWK text is refused")
    func hs256WithPublicJWK() throws {
        let jwk = try Fixture.minter().key("ec1").jwk
        let token = try Fixture.token("ec1", header: ["alg": "HS256"], options: ["sign": "HS256", "hmac_secret": jwk])
        expectRefused(try Fixture.verifier().verify(token), .algorithm)
    }

    @Test(
        "Other algorithm names are refused, compared case-sensitively",
        arguments: ["es256", "Es256", "RS512", "PS256", "ES384", "EdDSA", "", "ES256 "])
    func otherAlgorithms(alg: String) throws {
        let token = try Fixture.token("ec1", header: ["alg": alg], options: ["sign": "ES256"])
        expectRefused(try Fixture.verifier().verify(token), .algorithm)
    }

    @Test("A header without alg, or with a non-string alg, is malformed")
    func missingAlg() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["alg": nil], options: ["sign": "ES256"])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["alg": 256], options: ["sign": "ES256"])), .malformed)
    }

    @Test("An RS256 token is refused by a source that allows only ES256")
    func rs256AgainstES256OnlySource() throws {
        let token = try Fixture.token("rsa1")
        let verifier = try Fixture.verifier { $0.algorithms = [.es256] }
        expectRefused(verifier.verify(token), .algorithm)
    }

    @Test("An ES256 token is refused by a source that allows only RS256")
    func es256AgainstRS256OnlySource() throws {
        let token = try Fixture.token("ec1")
        let verifier = try Fixture.verifier { $0.algorithms = [.rs256] }
        expectRefused(verifier.verify(token), .algorithm)
    }

    // MARK: Key selection (J8, J9)

    @Test("An unknown kid is refused with a static key set")
    func unknownKidStatic() throws {
        let token = try Fixture.token("ec2")  // kid ec-2, not in the set
        expectRefused(try Fixture.verifier(keys: ["ec1", "rsa1"]).verify(token), .unknownKey)
        // The verifier asks its provider once; a static provider has nothing new to give.
        let provider = CountingProvider(try Fixture.keySet(["ec1", "rsa1"]))
        let verifier = AssertionVerifier(source: Fixture.source(keys: provider), now: { Fixture.now })
        expectRefused(verifier.verify(token), .unknownKey)
        #expect(provider.refreshes == 1)
    }

    @Test("A kid naming a key of the other algorithm is refused without a refresh")
    func kidOfOtherAlgorithm() throws {
        let token = try Fixture.token("ec1", header: ["kid": "rsa-1"])
        let provider = CountingProvider(try Fixture.keySet(["ec1", "rsa1"]))
        let verifier = AssertionVerifier(source: Fixture.source(keys: provider), now: { Fixture.now })
        expectRefused(verifier.verify(token), .unknownKey)
        #expect(provider.refreshes == 0)
    }

    @Test("Without kid, the one key of the token's algorithm is used")
    func noKidOneKey() throws {
        let verifier = try Fixture.verifier(keys: ["ec1", "rsa1"])
        let es = try expectAccepted(verifier.verify(try Fixture.token("ec1", header: ["kid": nil])))
        #expect(es.kid == "ec-1")
        let rs = try expectAccepted(verifier.verify(try Fixture.token("rsa1", header: ["kid": nil])))
        #expect(rs.kid == "rsa-1")
    }

    @Test("Without kid, two keys of the token's algorithm make it ambiguous and refused")
    func noKidTwoKeys() throws {
        let verifier = try Fixture.verifier(keys: ["ec1", "ec2", "rsa1"])
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["kid": nil])), .unknownKey)
        // With its kid the same token shape verifies.
        try expectAccepted(verifier.verify(try Fixture.token("ec1")))
    }

    @Test("A kid matches only its own bytes: KELVIN SIGN is not K (docs/security.md, names are bytes)")
    func kidBytes() throws {
        let minter = try Fixture.minter()
        let renamed = try minter.key("ec1").jwk.replacingOccurrences(of: "\"kid\":\"ec-1\"", with: "\"kid\":\"K-1\"")
        let set = try KeySet.parse(Array(#"{"keys":[\#(renamed)]}"#.utf8))
        #expect(set.keys.map(\.kid) == ["K-1"])
        let verifier = AssertionVerifier(source: Fixture.source(keys: StaticKeyProvider(set)), now: { Fixture.now })
        #expect(try expectAccepted(verifier.verify(try Fixture.token("ec1", header: ["kid": "K-1"]))).kid == "K-1")
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["kid": "\u{212A}-1"])), .unknownKey)
    }

    @Test("A kid published twice in the JWKS matches no key")
    func duplicateKidInSet() throws {
        let minter = try Fixture.minter()
        let impostor = try minter.key("ec2").jwk.replacingOccurrences(of: "\"kid\":\"ec-2\"", with: "\"kid\":\"ec-1\"")
        let set = try KeySet.parse(try Fixture.jwks(["ec1"], extra: [impostor]))
        #expect(set.keys.count == 2)
        let verifier = AssertionVerifier(source: Fixture.source(keys: StaticKeyProvider(set)), now: { Fixture.now })
        expectRefused(verifier.verify(try Fixture.token("ec1")), .unknownKey)
    }

    @Test("An embedded jwk header with the attacker's key is ignored: the attacker's token fails the signature")
    func embeddedJWKIgnored() throws {
        let minter = try Fixture.minter()
        let attackerJWK = try JSONSerialization.jsonObject(with: Data(try minter.key("attacker").jwk.utf8))
        // No kid: the one configured ES256 key is used, not the embedded one.
        let token = try Fixture.token("attacker", header: ["kid": nil, "jwk": attackerJWK])
        expectRefused(try Fixture.verifier().verify(token), .signature)
        // Naming the configured kid does not help either.
        let named = try Fixture.token("attacker", header: ["kid": "ec-1", "jwk": attackerJWK])
        expectRefused(try Fixture.verifier().verify(named), .signature)
    }

    @Test("jku and x5u headers are ignored: a legitimate token still verifies with the configured key")
    func jkuAndX5uIgnoredForLegitimateToken() throws {
        let token = try Fixture.token(
            "ec1", header: ["jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/cert.pem"])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("jku and x5u never cause a fetch: an attacker's token only triggers a refetch of the configured URL")
    func jkuAndX5uNeverFetched() throws {
        let configured = URL(string: "https://idp.example.com/jwks.json")!
        let endpoint = FakeJWKSEndpoint(.document(try Fixture.jwks(["ec1"])))
        let clock = TestClock(Fixture.now)
        let provider = RemoteKeyProvider(url: configured, fetch: endpoint.fetcher, now: clock.function)
        let verifier = AssertionVerifier(source: Fixture.source(keys: provider), now: clock.function)
        try expectAccepted(verifier.verify(try Fixture.token("ec1")))
        clock.advance(by: 60)  // past the unknown-kid cooldown
        let token = try Fixture.token(
            "attacker", header: ["jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/cert.pem"])
        expectRefused(verifier.verify(token), .unknownKey)
        #expect(endpoint.calls == 2)
        #expect(endpoint.urls.allSatisfy { $0 == configured })
    }

    @Test("A non-string kid is malformed")
    func nonStringKid() throws {
        let token = try Fixture.token("ec1", header: ["kid": 1])
        expectRefused(try Fixture.verifier().verify(token), .malformed)
    }

    // MARK: Signature (J15–J17)

    @Test("A tampered payload fails the signature")
    func tamperedPayload() throws {
        let token = try Fixture.token("ec1", options: ["tamper_payload": Fixture.claims(["sub": "admin"])])
        expectRefused(try Fixture.verifier().verify(token), .signature)
    }

    @Test("A tampered RS256 payload fails the signature")
    func tamperedPayloadRS256() throws {
        let token = try Fixture.token("rsa1", options: ["tamper_payload": Fixture.claims(["sub": "admin"])])
        expectRefused(try Fixture.verifier().verify(token), .signature)
    }

    @Test("A tampered signature fails the signature check")
    func tamperedSignature() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["tamper_signature": true])), .signature)
        expectRefused(verifier.verify(try Fixture.token("rsa1", options: ["tamper_signature": true])), .signature)
    }

    @Test("A token signed by another key under a configured kid fails the signature")
    func wrongKeySameKid() throws {
        let token = try Fixture.token("attacker", header: ["kid": "ec-1"])
        expectRefused(try Fixture.verifier().verify(token), .signature)
    }

    @Test("Signatures of the wrong length fail (ES256 must be 64 bytes, RS256 the modulus size)")
    func wrongSignatureLength() throws {
        let verifier = try Fixture.verifier()
        for key in ["ec1", "rsa1"] {
            var parts = Fixture.segments(try Fixture.token(key))
            let signature = try #require(Base64URL.decode(parts[2]))
            parts[2] = Base64URL.encode(signature.dropLast())
            expectRefused(verifier.verify(Fixture.join(parts)), .signature)
            parts[2] = Base64URL.encode(signature + [0])
            expectRefused(verifier.verify(Fixture.join(parts)), .signature)
        }
    }

    // MARK: Structure and encoding (J1–J4, J10)

    @Test("Padded base64 segments are refused when the source does not allow padding")
    func paddedRefused() throws {
        let token = try Fixture.token("ec1", options: ["pad": true])
        #expect(token.contains("="))
        expectRefused(try Fixture.verifier().verify(token), .malformed)
    }

    @Test("Padded base64 segments are accepted when the source allows padding (AWS ALB)")
    func paddedAllowed() throws {
        let token = try Fixture.token("ec1", options: ["pad": true])
        try expectAccepted(try Fixture.verifier { $0.allowPadding = true }.verify(token))
    }

    @Test("Wrong padding is refused even when padding is allowed")
    func wrongPaddingRefused() throws {
        var parts = Fixture.segments(try Fixture.token("ec1", options: ["pad": true]))
        // The 64-byte signature needs exactly "==": a third '=' or a missing one is wrong.
        #expect(parts[2].hasSuffix("=="))
        let verifier = try Fixture.verifier { $0.allowPadding = true }
        let original = parts[2]
        parts[2] = original + "="
        expectRefused(verifier.verify(Fixture.join(parts)), .malformed)
        parts[2] = String(original.dropLast())
        expectRefused(verifier.verify(Fixture.join(parts)), .malformed)
    }

    @Test("'+' and '/' (the standard alphabet) are refused; the same signature in base64url verifies")
    func standardAlphabetRefused() throws {
        let token = try Fixture.token("ec1", options: ["std_alphabet": true])
        let signature = Fixture.segments(token)[2]
        #expect(signature.contains("+") || signature.contains("/"))
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(token), .malformed)
        expectRefused(try Fixture.verifier { $0.allowPadding = true }.verify(token), .malformed)
        let urlSafe = token.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        try expectAccepted(verifier.verify(urlSafe))
    }

    @Test("Non-zero unused bits in the last base64url character are refused")
    func nonCanonicalTrailingBits() throws {
        var parts = Fixture.segments(try Fixture.token("ec1"))
        // 64 bytes encode to 86 characters: the last one carries 4 unused bits, which must be 0.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = try #require(parts[2].last)
        let value = try #require(alphabet.firstIndex(of: last))
        #expect(value & 0x0f == 0)
        parts[2] = String(parts[2].dropLast()) + String(alphabet[value | 0x01])
        expectRefused(try Fixture.verifier().verify(Fixture.join(parts)), .malformed)
    }

    @Test("Whitespace around or inside a token is refused")
    func whitespaceRefused() throws {
        let token = try Fixture.token("ec1")
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(" " + token), .malformed)
        expectRefused(verifier.verify(token + "\n"), .malformed)
        var parts = Fixture.segments(token)
        parts[1].insert(" ", at: parts[1].index(parts[1].startIndex, offsetBy: 4))
        expectRefused(verifier.verify(Fixture.join(parts)), .malformed)
    }

    @Test("Duplicate header members ({\"alg\":\"ES256\",\"alg\":\"none\"}) are refused")
    func duplicateHeaderMember() throws {
        let token = try Fixture.token(
            "ec1", options: ["raw_header": #"{"alg":"ES256","alg":"none","kid":"ec-1"}"#, "sign": "ES256"])
        expectRefused(try Fixture.verifier().verify(token), .malformed)
        let reversed = try Fixture.token(
            "ec1", options: ["raw_header": #"{"alg":"none","kid":"ec-1","alg":"ES256"}"#, "sign": "ES256"])
        expectRefused(try Fixture.verifier().verify(reversed), .malformed)
    }

    @Test("Duplicate payload members are refused, even under a valid signature")
    func duplicatePayloadMember() throws {
        let e = Fixture.epoch
        let raw = #"{"iss":"\#(Fixture.issuer)","aud":"\#(Fixture.audience)","sub":"alice","sub":"admin","exp":\#(e + 300)}"#
        let token = try Fixture.token("ec1", options: ["raw_payload": raw])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("A header that is not a JSON object is malformed; a payload that is not one is refused")
    func nonObjectHeaderAndPayload() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["raw_header": #"["ES256"]"#])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["raw_header": #"{"alg":"ES256","#])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["raw_payload": #"["alice"]"#])), .claims)
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["raw_payload": "alice"])), .claims)
    }

    @Test("A crit header is refused")
    func critRefused() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["crit": ["exp"], "exp": 1])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["crit": [String]()])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["crit": NSNull()])), .malformed)
    }

    @Test("cty JWT (a nested token) is refused")
    func nestedJWTRefused() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["cty": "JWT"])), .malformed)
        expectRefused(verifier.verify(try Fixture.token("ec1", header: ["cty": "jwt"])), .malformed)
    }

    @Test("Four or five parts (JWE or garbage) are refused", arguments: [4, 5])
    func tooManyParts(count: Int) throws {
        var parts = Fixture.segments(try Fixture.token("ec1"))
        while parts.count < count { parts.append(parts[1]) }
        expectRefused(try Fixture.verifier().verify(Fixture.join(parts)), .malformed)
    }

    @Test("Fewer than three parts, or empty parts, are refused")
    func tooFewOrEmptyParts() throws {
        let parts = Fixture.segments(try Fixture.token("ec1"))
        let verifier = try Fixture.verifier()
        for candidate in [parts[0], parts[0] + "." + parts[1], "." + parts[1] + "." + parts[2], parts[0] + ".." + parts[2], "", ".."] {
            expectRefused(verifier.verify(candidate), .malformed)
        }
    }

    @Test("An empty signature is refused")
    func emptySignature() throws {
        var parts = Fixture.segments(try Fixture.token("ec1"))
        parts[2] = ""
        expectRefused(try Fixture.verifier().verify(Fixture.join(parts)), .malformed)
    }

    @Test("A token over 8 KiB is refused before any other work")
    func oversizedToken() throws {
        let token = try Fixture.token("rsa1", options: ["fill_to": 8193])
        #expect(token.utf8.count == 8193)
        expectRefused(try Fixture.verifier().verify(token), .malformed)
    }

    @Test("The JSON serialization of a JWS is refused")
    func jsonSerializationRefused() throws {
        let parts = Fixture.segments(try Fixture.token("ec1"))
        let json = #"{"payload":"\#(parts[1])","signatures":[{"protected":"\#(parts[0])","signature":"\#(parts[2])"}]}"#
        expectRefused(try Fixture.verifier().verify(json), .malformed)
    }

    @Test("Deeply nested JSON in the header or payload is refused")
    func deeplyNested() throws {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let verifier = try Fixture.verifier()
        expectRefused(
            verifier.verify(
                try Fixture.token("ec1", header: ["x": nil], options: ["raw_header": #"{"alg":"ES256","kid":"ec-1","x":\#(deep)}"#])),
            .malformed)
        let e = Fixture.epoch
        let payload = #"{"iss":"\#(Fixture.issuer)","aud":"\#(Fixture.audience)","sub":"alice","exp":\#(e + 300),"x":\#(deep)}"#
        expectRefused(verifier.verify(try Fixture.token("ec1", options: ["raw_payload": payload])), .claims)
    }

    @Test("The signature is checked before any claim: an expired, garbled token fails on its signature")
    func signatureBeforeClaims() throws {
        let verifier = try Fixture.verifier()
        let expired = try Fixture.token("ec1", claims: ["exp": Fixture.epoch - 3600], options: ["tamper_signature": true])
        expectRefused(verifier.verify(expired), .signature)
        let garbage = try Fixture.token("ec1", options: ["raw_payload": "not json", "tamper_signature": true])
        expectRefused(verifier.verify(garbage), .signature)
    }

    @Test("An all-zero ES256 signature (r = s = 0) fails")
    func zeroSignature() throws {
        var parts = Fixture.segments(try Fixture.token("ec1"))
        parts[2] = Base64URL.encode([UInt8](repeating: 0, count: 64))
        expectRefused(try Fixture.verifier().verify(Fixture.join(parts)), .signature)
    }

    @Test("A signature is bound to the exact received text: the same claims re-encoded fail")
    func signatureOverReceivedText() throws {
        var parts = Fixture.segments(try Fixture.token("ec1"))
        // Same JSON object, different bytes (a space after the brace).
        let payload = try #require(Base64URL.decode(parts[1]))
        parts[1] = Base64URL.encode([payload[0], UInt8(ascii: " ")] + payload.dropFirst())
        expectRefused(try Fixture.verifier().verify(Fixture.join(parts)), .signature)
    }

    @Test("A token of exactly 8 KiB is accepted")
    func tokenAtSizeLimit() throws {
        let token = try Fixture.token("rsa1", options: ["fill_to": 8192])
        #expect(token.utf8.count == 8192)
        try expectAccepted(try Fixture.verifier().verify(token))
    }
}

/// A static key provider that counts refresh requests.
final class CountingProvider: KeyProvider, Sendable {
    private let set: KeySet
    private let count = Locked(0)

    init(_ set: KeySet) { self.set = set }

    var refreshes: Int { self.count.withLock { $0 } }
    func current() -> KeySet? { self.set }
    func refresh(missingKid: String) -> KeySet? {
        self.count.withLock { $0 += 1 }
        return self.set
    }
}
