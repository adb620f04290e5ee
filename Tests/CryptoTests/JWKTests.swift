import Crypto
import Testing

@Suite struct JWKTests {
    typealias Example = RFC7515Examples

    private func code(_ members: [String: JWKMember]) -> CryptoError.Code? {
        do {
            _ = try JWK(members: members)
            return nil
        } catch {
            return error.code
        }
    }

    private func with(_ base: [String: JWKMember], _ changes: [String: JWKMember?]) -> [String: JWKMember] {
        var members = base
        for (name, value) in changes { members[name] = value }
        return members
    }

    @Test("A complete RSA JWK with kid, alg, use and key_ops is accepted")
    func fullRSA() throws {
        let jwk = try JWK(
            members: with(
                Example.rs256JWK,
                [
                    "kid": "2011-04-29", "alg": "RS256", "use": "sig", "key_ops": ["verify"],
                    "x5c": .other, "ext": .other,  // unknown or unused members are ignored
                ]))
        #expect(jwk.kid == "2011-04-29")
        #expect(jwk.algorithm == .rs256)
        #expect(jwk.key.algorithm == .rs256)
    }

    @Test("A complete EC JWK is accepted and bound to ES256")
    func fullEC() throws {
        let jwk = try JWK(members: with(Example.es256JWK, ["kid": "e1", "alg": "ES256", "use": "sig"]))
        #expect(jwk.kid == "e1" && jwk.algorithm == .es256)
    }

    @Test("alg must match the key type exactly (J6)")
    func algBinding() {
        for alg in ["ES256", "RS384", "RS512", "PS256", "HS256", "none", "rs256", "RSA1_5", ""] {
            #expect(code(with(Example.rs256JWK, ["alg": .string(alg)])) == .unusableKey, "RSA with \(alg)")
        }
        for alg in ["RS256", "ES384", "ES512", "ES521", "ES224", "es256", "HS256", ""] {
            #expect(code(with(Example.es256JWK, ["alg": .string(alg)])) == .unusableKey, "EC with \(alg)")
        }
        #expect(code(with(Example.rs256JWK, ["alg": .other])) == .malformedKey)
        #expect(code(with(Example.rs256JWK, ["alg": ["RS256"]])) == .malformedKey)
    }

    @Test("use must be sig and key_ops must contain verify (J7)")
    func keyUse() {
        #expect(code(with(Example.es256JWK, ["use": "enc"])) == .unusableKey)
        #expect(code(with(Example.es256JWK, ["use": "SIG"])) == .unusableKey)
        #expect(code(with(Example.es256JWK, ["use": .other])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["key_ops": ["sign"]])) == .unusableKey)
        #expect(code(with(Example.es256JWK, ["key_ops": []])) == .unusableKey)
        #expect(code(with(Example.es256JWK, ["key_ops": ["verify", "verify"]])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["key_ops": "verify"])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["key_ops": .other])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["key_ops": ["verify", "encrypt"]])) == nil)
        #expect(code(with(Example.es256JWK, ["use": "sig", "key_ops": ["verify"]])) == nil)
    }

    @Test("Private members make the key unusable (J7)")
    func privateMembers() {
        for name in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            #expect(code(with(Example.rs256JWK, [name: "AQAB"])) == .privateKey, "\(name)")
        }
        #expect(code(with(Example.es256JWK, ["d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"])) == .privateKey)
        #expect(code(with(Example.es256JWK, ["d": .other])) == .privateKey)
    }

    @Test("oct, OKP and unknown key types are unsupported; kty must be a string")
    func keyTypes() {
        #expect(
            code(["kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"])
                == .unsupportedKey)
        #expect(code(["kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"]) == .unsupportedKey)
        #expect(code(with(Example.rs256JWK, ["kty": "rsa"])) == .unsupportedKey)
        #expect(code(with(Example.rs256JWK, ["kty": "RSA-PSS"])) == .unsupportedKey)
        #expect(code(with(Example.rs256JWK, ["kty": nil])) == .malformedKey)
        #expect(code(with(Example.rs256JWK, ["kty": .other])) == .malformedKey)
        #expect(code([:]) == .malformedKey)
    }

    @Test("EC members: crv P-256 only, x and y strict base64url of 32 bytes (J13)")
    func ecMembers() {
        #expect(code(with(Example.es256JWK, ["crv": "P-384"])) == .unsupportedKey)
        #expect(code(with(Example.es256JWK, ["crv": "p-256"])) == .unsupportedKey)
        #expect(code(with(Example.es256JWK, ["crv": "secp256r1"])) == .unsupportedKey)
        #expect(code(with(Example.es256JWK, ["crv": nil])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["x": nil])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["y": .other])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["x": .string(Example.es256X + "=")])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["x": .string(" " + Example.es256X)])) == .malformedKey)
        let x = Example.decoded(Example.es256X)
        #expect(code(with(Example.es256JWK, ["x": .string(Base64URL.encode([0] + x))])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["x": .string(Base64URL.encode(x.dropFirst()))])) == .malformedKey)
        // The last character of a 32-byte value carries 2 unused bits: "U" ends in 0b00, "V" in 0b01.
        #expect(Example.es256X.hasSuffix("U"))
        #expect(code(with(Example.es256JWK, ["x": .string(String(Example.es256X.dropLast()) + "V")])) == .malformedKey)
    }

    @Test("RSA members: n and e strict, minimal, and within policy (J12)")
    func rsaMembers() {
        #expect(code(with(Example.rs256JWK, ["n": nil])) == .malformedKey)
        #expect(code(with(Example.rs256JWK, ["e": nil])) == .malformedKey)
        #expect(code(with(Example.rs256JWK, ["e": "Aw"])) == .weakKey)  // e = 3
        #expect(code(with(Example.rs256JWK, ["e": "AQ"])) == .weakKey)  // e = 1
        #expect(code(with(Example.rs256JWK, ["e": "AAEAAQ"])) == .malformedKey)  // 00 01 00 01
        #expect(code(with(Example.rs256JWK, ["e": "AQAB=="])) == .malformedKey)
        let n = Example.decoded(Example.rs256N)
        #expect(code(with(Example.rs256JWK, ["n": .string(Base64URL.encode([0] + n))])) == .malformedKey)
        #expect(code(with(Example.rs256JWK, ["n": .string(Base64URL.encode(n.prefix(128)))])) == .weakKey)
        #expect(code(with(Example.rs256JWK, ["n": .string(String(Example.rs256N.map { $0 == "_" ? "/" : $0 }))])) == .malformedKey)
        // An EC key's members on an RSA key type do not make a key.
        #expect(code(["kty": "RSA", "crv": "P-256", "x": .string(Example.es256X), "y": .string(Example.es256Y)]) == .malformedKey)
    }

    @Test("kid must be a string when present")
    func kid() {
        #expect(code(with(Example.es256JWK, ["kid": .other])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["kid": ["a"]])) == .malformedKey)
        #expect(code(with(Example.es256JWK, ["kid": ""])) == nil)
    }
}
