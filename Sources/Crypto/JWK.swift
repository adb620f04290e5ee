/// One member value of a JSON Web Key object, as the JSON parser of the caller hands it over.
///
/// The Crypto layer does not parse JSON: the component that reads JWKS documents (and rejects
/// duplicate member names, which Foundation's parsers resolve in opposite ways) converts each
/// member into one of these cases.
public enum JWKMember: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByArrayLiteral {
    /// A JSON string.
    case string(String)
    /// A JSON array whose elements are all strings (for example `key_ops`).
    case strings([String])
    /// Any other JSON value: number, boolean, null, object, or an array with a non-string element.
    case other

    /// A string member.
    public init(stringLiteral value: String) { self = .string(value) }

    /// An array-of-strings member.
    public init(arrayLiteral elements: String...) { self = .strings(elements) }
}

/// A public JSON Web Key (RFC 7517) that is usable for verifying RS256 or ES256 signatures.
///
/// Creating one applies J6, J7, J12 and J13 of the JWT checklist in docs/security.md: `kty` `RSA`
/// means RS256 and `EC` with `crv` `P-256` means ES256, and nothing else; an `alg` member, if
/// present, must name that algorithm; `use`, if present, must be `sig`; `key_ops`, if present, must
/// contain `verify`; symmetric (`oct`) keys, keys with private members, unknown key types and keys
/// that fail the key policy are refused with a ``CryptoError``. A key-set loader is expected to
/// skip refused keys and log the reason (J23), not to fail the whole set.
public struct JWK: Sendable {
    /// Private members of RSA (RFC 7518 §6.3.2) and EC (§6.2.2) keys. `k` (the secret of an `oct`
    /// key) is handled by refusing `oct` altogether.
    private static let privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// The `kid` member, if any; a lookup key only (J9).
    public let kid: String?
    /// The one algorithm this key may verify.
    public let algorithm: SignatureAlgorithm
    /// The checked key.
    public let key: PublicKey

    /// Validates a JWK given as its members and builds the key.
    ///
    /// Members this package does not use (`x5c`, `x5t`, `ext`, …) are ignored, as RFC 7517 §4
    /// requires.
    public init(members: [String: JWKMember]) throws(CryptoError) {
        guard case .string(let kty)? = members["kty"] else {
            throw CryptoError(.malformedKey, "JWK has no string member kty")
        }
        if kty == "oct" {
            throw CryptoError(.unsupportedKey, "symmetric keys (kty oct) are never accepted")
        }
        if Self.privateMembers.contains(where: { members[$0] != nil }) {
            throw CryptoError(.privateKey, "JWK contains private key members; only public keys are accepted")
        }

        let algorithm: SignatureAlgorithm
        switch kty {
        case "RSA": algorithm = .rs256
        case "EC": algorithm = .es256
        default: throw CryptoError(.unsupportedKey, "JWK key type is neither RSA nor EC")
        }

        switch members["alg"] {
        case nil: break
        case .string(let alg)? where alg == algorithm.jwsName: break
        case .string?: throw CryptoError(.unusableKey, "JWK alg is not \(algorithm) for kty \(kty)")
        default: throw CryptoError(.malformedKey, "JWK member alg is not a string")
        }
        switch members["use"] {
        case nil, .string("sig")?: break
        case .string?: throw CryptoError(.unusableKey, "JWK use is not sig")
        default: throw CryptoError(.malformedKey, "JWK member use is not a string")
        }
        switch members["key_ops"] {
        case nil: break
        case .strings(let ops)?:
            // RFC 7517 §4.3: "Duplicate key operation values MUST NOT be present".
            guard Set(ops).count == ops.count else {
                throw CryptoError(.malformedKey, "JWK key_ops contains duplicates")
            }
            guard ops.contains("verify") else {
                throw CryptoError(.unusableKey, "JWK key_ops does not contain verify")
            }
        default: throw CryptoError(.malformedKey, "JWK member key_ops is not an array of strings")
        }
        switch members["kid"] {
        case nil: self.kid = nil
        case .string(let kid)?: self.kid = kid
        default: throw CryptoError(.malformedKey, "JWK member kid is not a string")
        }

        switch algorithm {
        case .rs256:
            let n = try Self.bytes(members, "n")
            let e = try Self.bytes(members, "e")
            self.key = try PublicKey.rsa(modulus: n, exponent: e)
        case .es256:
            guard case .string(let crv)? = members["crv"] else {
                throw CryptoError(.malformedKey, "EC JWK has no string member crv")
            }
            guard crv == "P-256" else {
                throw CryptoError(.unsupportedKey, "EC JWK curve is not P-256")
            }
            let x = try Self.bytes(members, "x")
            let y = try Self.bytes(members, "y")
            self.key = try PublicKey.p256(x: x, y: y)
        }
        self.algorithm = algorithm
    }

    /// The strictly base64url-decoded bytes of a required string member.
    private static func bytes(_ members: [String: JWKMember], _ name: String) throws(CryptoError) -> [UInt8] {
        guard case .string(let text)? = members[name] else {
            throw CryptoError(.malformedKey, "JWK has no string member \(name)")
        }
        guard let bytes = Base64URL.decode(text) else {
            throw CryptoError(.malformedKey, "JWK member \(name) is not strict base64url")
        }
        return bytes
    }
}
