import Foundation
import Identity
import Testing

/// Claims checked after the signature (docs/security.md, JWT checklist J11, J18–J21;
/// product-anchors §5 step 4–5). Every token is validly signed by mint.py, so each refusal is down
/// to the claim under test.
@Suite("Assertion verification: claims, groups, typ and signer")
struct AssertionClaimsTests {
    let e = Fixture.epoch

    // MARK: Times (J18)

    @Test("A token expired beyond the leeway is refused as expired")
    func expiredBeyondLeeway() throws {
        let token = try Fixture.token(claims: ["exp": e - 31, "iat": e - 600, "nbf": e - 600])
        expectRefused(try Fixture.verifier().verify(token), .expired)
    }

    @Test("A token expired within the leeway is accepted")
    func expiredWithinLeeway() throws {
        let token = try Fixture.token(claims: ["exp": e - 29, "iat": e - 600, "nbf": e - 600])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("Expiry boundary: now == exp + leeway is expired, one second earlier is not")
    func expiryBoundary() throws {
        let token = try Fixture.token(claims: ["exp": e - 30, "iat": e - 600, "nbf": e - 600])
        expectRefused(try Fixture.verifier().verify(token), .expired)
        let earlier = Fixture.now.addingTimeInterval(-1)
        try expectAccepted(try Fixture.verifier(now: earlier).verify(token))
    }

    @Test("With no leeway, a token is expired at exp exactly")
    func zeroLeeway() throws {
        let token = try Fixture.token(claims: ["exp": e])
        expectRefused(try Fixture.verifier { $0.leeway = 0 }.verify(token), .expired)
    }

    @Test("A configured leeway above 60 s is capped at 60 s")
    func leewayCapped() throws {
        let source = Fixture.source(keys: StaticKeyProvider(try Fixture.keySet(["ec1"])))
        let generous = AssertionSource(
            name: source.name, header: source.header, issuer: source.issuer, audiences: source.audiences,
            algorithms: source.algorithms, keys: source.keys, leeway: 3600)
        #expect(generous.leeway == 60)
        let verifier = AssertionVerifier(source: generous, now: { Fixture.now })
        expectRefused(verifier.verify(try Fixture.token(claims: ["exp": e - 120, "iat": e - 600, "nbf": e - 600])), .expired)
        try expectAccepted(verifier.verify(try Fixture.token(claims: ["exp": e - 59, "iat": e - 600, "nbf": e - 600])))
    }

    @Test("nbf in the future beyond the leeway is refused as not yet valid")
    func nbfInFuture() throws {
        let token = try Fixture.token(claims: ["nbf": e + 31])
        expectRefused(try Fixture.verifier().verify(token), .notYetValid)
    }

    @Test("nbf in the future within the leeway is accepted")
    func nbfWithinLeeway() throws {
        let token = try Fixture.token(claims: ["nbf": e + 30])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("iat in the future beyond the leeway is refused as not yet valid")
    func iatInFuture() throws {
        let token = try Fixture.token(claims: ["iat": e + 120, "nbf": nil])
        expectRefused(try Fixture.verifier().verify(token), .notYetValid)
    }

    @Test("iat in the future within the leeway is accepted")
    func iatWithinLeeway() throws {
        let token = try Fixture.token(claims: ["iat": e + 20, "nbf": nil])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("nbf and iat are optional")
    func nbfAndIatOptional() throws {
        let token = try Fixture.token(claims: ["iat": nil, "nbf": nil])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("exp as a string is refused")
    func expAsString() throws {
        let token = try Fixture.token(claims: ["exp": String(e + 300)])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("exp as a boolean, null, array or absurd number is refused")
    func expOtherTypes() throws {
        let verifier = try Fixture.verifier()
        for value: Any in [true, NSNull(), [e + 300], 1e300, -1e300] {
            expectRefused(verifier.verify(try Fixture.token(claims: ["exp": value])), .claims)
        }
    }

    @Test("A fractional exp is a valid NumericDate")
    func fractionalExp() throws {
        let token = try Fixture.token(claims: ["exp": Double(e) + 300.5])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("A missing exp is refused")
    func expMissing() throws {
        let token = try Fixture.token(claims: ["exp": nil])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("nbf or iat as strings are refused")
    func nbfAndIatAsStrings() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["nbf": String(e - 10)])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["iat": String(e - 10)])), .claims)
    }

    // MARK: Issuer and audience (J19, J20)

    @Test("A wrong iss is refused", arguments: ["https://evil.example.com", "https://idp.example.com/", "HTTPS://IDP.EXAMPLE.COM", ""])
    func wrongIssuer(iss: String) throws {
        let token = try Fixture.token(claims: ["iss": iss])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("A missing or non-string iss is refused")
    func issuerMissingOrWrongType() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["iss": nil])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["iss": [Fixture.issuer]])), .claims)
    }

    @Test("A wrong aud is refused")
    func wrongAudience() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": "sluice-staging"])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": "SLUICE-PROD"])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": ["sluice-staging", "other"]])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": [String]()])), .claims)
    }

    @Test("An aud array containing our audience is accepted")
    func audienceArrayContainingOurs() throws {
        let token = try Fixture.token(claims: ["aud": ["other-app", Fixture.audience]])
        try expectAccepted(try Fixture.verifier().verify(token))
    }

    @Test("Any configured audience is enough")
    func anyConfiguredAudience() throws {
        let token = try Fixture.token(claims: ["aud": "sluice-canary"])
        try expectAccepted(try Fixture.verifier { $0.audiences = ["sluice-prod", "sluice-canary"] }.verify(token))
    }

    @Test("An aud of the wrong type, or missing, is refused")
    func audienceWrongType() throws {
        let verifier = try Fixture.verifier()
        for value: Any? in [42, true, NSNull(), ["aud": Fixture.audience], [Fixture.audience, 1] as [Any], nil] {
            expectRefused(verifier.verify(try Fixture.token(claims: ["aud": value])), .claims)
        }
    }

    // MARK: User claim (J21)

    @Test("A missing user claim is refused")
    func userClaimMissing() throws {
        let token = try Fixture.token(claims: ["sub": nil])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("A non-string user claim is refused")
    func userClaimNotString() throws {
        let verifier = try Fixture.verifier()
        for value: Any in [42, ["alice"], ["name": "alice"], true, NSNull()] {
            expectRefused(verifier.verify(try Fixture.token(claims: ["sub": value])), .claims)
        }
    }

    @Test(
        "A user claim with a control character is refused",
        arguments: ["alice\u{7}", "alice\nadmin", "al\u{0}ice", "\u{1b}[31malice", "alice\u{85}"])
    func userClaimControlCharacter(user: String) throws {
        let token = try Fixture.token(claims: ["sub": user])
        expectRefused(try Fixture.verifier().verify(token), .claims)
    }

    @Test("An empty or over-long user claim is refused")
    func userClaimEmptyOrLong() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["sub": ""])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["sub": String(repeating: "a", count: 257)])), .claims)
        try expectAccepted(verifier.verify(try Fixture.token(claims: ["sub": String(repeating: "a", count: 256)])))
    }

    @Test("The configured user claim is used, compared exactly")
    func configuredUserClaim() throws {
        let token = try Fixture.token(claims: ["email": "Alice@Example.com"])
        let assertion = try expectAccepted(try Fixture.verifier { $0.userClaim = "email" }.verify(token))
        #expect(assertion.user == "Alice@Example.com")
    }

    // MARK: Groups (product-anchors §5 step 5)

    @Test("Groups as an array")
    func groupsArray() throws {
        let token = try Fixture.token(claims: ["groups": ["ops", "dev", "org:team"]])
        let assertion = try expectAccepted(try Fixture.verifier().verify(token))
        #expect(assertion.groups == ["ops", "dev", "org:team"])
    }

    @Test("Groups as a comma-separated string")
    func groupsCommaString() throws {
        let token = try Fixture.token(claims: ["groups": "ops,dev,,org:team"])
        let assertion = try expectAccepted(try Fixture.verifier().verify(token))
        #expect(assertion.groups == ["ops", "dev", "org:team"])
    }

    @Test("Groups as a space-separated string; control characters (tab, newline) in it are refused")
    func groupsSpaceString() throws {
        let token = try Fixture.token(claims: ["groups": "  ops dev  org:team "])
        let assertion = try expectAccepted(try Fixture.verifier().verify(token))
        #expect(assertion.groups == ["ops", "dev", "org:team"])
        expectRefused(try Fixture.verifier().verify(try Fixture.token(claims: ["groups": "ops\tdev"])), .claims)
        expectRefused(try Fixture.verifier().verify(try Fixture.token(claims: ["groups": "ops\nadmin"])), .claims)
    }

    @Test("Groups mixed: separators inside array items, duplicates merged")
    func groupsMixed() throws {
        let verifier = try Fixture.verifier()
        let string = try expectAccepted(verifier.verify(try Fixture.token(claims: ["groups": "ops, dev admin,ops"])))
        #expect(string.groups == ["ops", "dev", "admin"])
        let array = try expectAccepted(verifier.verify(try Fixture.token(claims: ["groups": ["ops, dev", "admin ops", ""]])))
        #expect(array.groups == ["ops", "dev", "admin"])
    }

    @Test("Groups with a non-string element are refused")
    func groupsNonStringElement() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": ["ops", 1] as [Any]])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": ["ops", ["admin"]] as [Any]])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": ["ops", NSNull()] as [Any]])), .claims)
    }

    @Test("Groups of another type are refused; null or absent means none")
    func groupsOtherTypes() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": 7])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": ["ops": true]])), .claims)
        #expect(try expectAccepted(verifier.verify(try Fixture.token(claims: ["groups": NSNull()]))).groups.isEmpty)
        #expect(try expectAccepted(verifier.verify(try Fixture.token(claims: ["groups": nil]))).groups.isEmpty)
    }

    @Test("A group name with a control character is refused")
    func groupControlCharacter() throws {
        let verifier = try Fixture.verifier()
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": ["ops\u{7}"]])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["groups": "ops,\u{1b}admin"])), .claims)
    }

    @Test("Groups are read only when a groups claim is configured")
    func groupsNotConfigured() throws {
        let token = try Fixture.token(claims: ["groups": ["admin"]])
        let assertion = try expectAccepted(try Fixture.verifier { $0.groupsClaim = nil }.verify(token))
        #expect(assertion.groups.isEmpty)
    }

    // MARK: typ (J11) and signer (AWS ALB)

    @Test("A required typ is accepted when it matches")
    func typMatches() throws {
        let token = try Fixture.token(header: ["typ": "at+jwt"])
        try expectAccepted(try Fixture.verifier { $0.requiredType = "at+jwt" }.verify(token))
    }

    @Test("A required typ that is missing is refused")
    func typMissing() throws {
        let token = try Fixture.token()
        expectRefused(try Fixture.verifier { $0.requiredType = "at+jwt" }.verify(token), .claims)
    }

    @Test("A required typ that differs is refused", arguments: ["JWT", "AT+JWT", "id+jwt", ""])
    func typWrong(typ: String) throws {
        let token = try Fixture.token(header: ["typ": typ])
        expectRefused(try Fixture.verifier { $0.requiredType = "at+jwt" }.verify(token), .claims)
    }

    @Test("typ is not checked when none is required")
    func typNotRequired() throws {
        try expectAccepted(try Fixture.verifier().verify(try Fixture.token(header: ["typ": "whatever"])))
    }

    static let albARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/sluice/50dc6c495c0c9188"

    @Test("AWS ALB: a padded token with the configured signer is accepted")
    func albSignerMatches() throws {
        let token = try Fixture.token(header: ["signer": Self.albARN, "client": "abc"], options: ["pad": true])
        let verifier = try Fixture.verifier {
            $0.signer = Self.albARN
            $0.allowPadding = true
            $0.algorithms = [.es256]
        }
        try expectAccepted(verifier.verify(token))
    }

    @Test("AWS ALB: another signer, or none, is refused")
    func albSignerMismatch() throws {
        let verifier = try Fixture.verifier {
            $0.signer = Self.albARN
            $0.allowPadding = true
        }
        let other = Self.albARN.replacingOccurrences(of: "123456789012", with: "210987654321")
        expectRefused(verifier.verify(try Fixture.token(header: ["signer": other], options: ["pad": true])), .claims)
        expectRefused(verifier.verify(try Fixture.token(options: ["pad": true])), .claims)
        expectRefused(verifier.verify(try Fixture.token(header: ["signer": [Self.albARN]], options: ["pad": true])), .claims)
    }
}

extension AssertionClaimsTests {
    @Test(
        "A leeway raised on the source after creation is still capped at 60 s")
    func leewayCappedAfterMutation() throws {
        let verifier = try Fixture.verifier { $0.leeway = 3600 }
        expectRefused(verifier.verify(try Fixture.token(claims: ["exp": e - 120, "iat": e - 600, "nbf": e - 600])), .expired)
    }
}

/// J21: claim strings are compared exactly, with no normalisation. Swift's `==` on `String` is
/// Unicode canonical equivalence, so U+212A KELVIN SIGN equals "K" and "e\u{301}" equals "é".
extension AssertionClaimsTests {
    @Test(
        "iss is compared exactly: a canonically equivalent spelling (KELVIN SIGN for K) is refused")
    func issuerComparedExactlyKelvin() throws {
        let verifier = try Fixture.verifier { $0.issuer = "https://Keycloak.example.com/realms/main" }
        try expectAccepted(verifier.verify(try Fixture.token(claims: ["iss": "https://Keycloak.example.com/realms/main"])))
        expectRefused(verifier.verify(try Fixture.token(claims: ["iss": "https://\u{212A}eycloak.example.com/realms/main"])), .claims)
    }

    @Test(
        "iss is compared exactly: a decomposed spelling of a precomposed character is refused")
    func issuerComparedExactlyDecomposed() throws {
        let verifier = try Fixture.verifier { $0.issuer = "https://idp.example.com/caf\u{E9}" }
        expectRefused(verifier.verify(try Fixture.token(claims: ["iss": "https://idp.example.com/cafe\u{301}"])), .claims)
    }

    @Test(
        "aud is compared exactly: a canonically equivalent spelling is refused")
    func audienceComparedExactly() throws {
        let verifier = try Fixture.verifier { $0.audiences = ["Kiosk"] }
        try expectAccepted(verifier.verify(try Fixture.token(claims: ["aud": "Kiosk"])))
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": "\u{212A}iosk"])), .claims)
        expectRefused(verifier.verify(try Fixture.token(claims: ["aud": ["other", "\u{212A}iosk"]])), .claims)
    }

    @Test(
        "typ and signer are compared exactly")
    func typAndSignerComparedExactly() throws {
        let typ = try Fixture.verifier { $0.requiredType = "kid+jwt" }
        expectRefused(typ.verify(try Fixture.token(header: ["typ": "\u{212A}id+jwt"])), .claims)
        let signer = try Fixture.verifier { $0.signer = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/K" }
        expectRefused(
            signer.verify(try Fixture.token(header: ["signer": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/\u{212A}"])),
            .claims)
    }

    @Test("A user name that Unicode NFC would change is refused, so it can never alias another user's roles")
    func userMustBeNFC() throws {
        // "\u{212A}ate" (KELVIN SIGN) is canonically equivalent to "Kate": Swift's == would match it.
        expectRefused(try Fixture.verifier().verify(try Fixture.token(claims: ["sub": "\u{212A}ate"])), .claims)
        expectRefused(try Fixture.verifier().verify(try Fixture.token(claims: ["sub": "cafe\u{301}"])), .claims)
        let assertion = try expectAccepted(try Fixture.verifier().verify(try Fixture.token(claims: ["sub": "café"])))
        #expect(assertion.user.utf8.elementsEqual("café".utf8))
    }
}
