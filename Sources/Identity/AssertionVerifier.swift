public import Crypto
public import Foundation
public import JSON

/// One configured source of signed identity assertions (Pomerium, Google IAP, Cloudflare Access,
/// AWS ALB, an OIDC IdP...).
public struct AssertionSource: Sendable {
    /// A name for logs and explanations.
    public var name: String
    /// The request header carrying the token; `Authorization` means `Authorization: Bearer <jwt>`.
    public var header: String
    /// The exact expected `iss` (docs/security.md, JWT checklist J19).
    public var issuer: String
    /// Accepted audiences; the token's `aud` must contain one of them (J20).
    public var audiences: [String]
    /// Allowed algorithms: a subset of RS256 and ES256, the only ones that can ever be accepted.
    public var algorithms: Set<SignatureAlgorithm>
    /// Where the keys come from.
    public var keys: any KeyProvider
    /// The claim naming the user (e.g. `sub` or `email`).
    public var userClaim: String
    /// The claim holding groups (array, or string separated by commas or spaces), if any.
    public var groupsClaim: String?
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (at most 60).
    public var leeway: TimeInterval
    /// Tolerate `=` padding in the token's segments (AWS ALB).
    public var allowPadding: Bool
    /// If set, the header's `typ` must equal it (J11).
    public var requiredType: String?
    /// If set, the header's `signer` must equal it (AWS ALB: the load balancer's ARN).
    public var signer: String?

    /// Creates a source.
    public init(
        name: String, header: String, issuer: String, audiences: [String], algorithms: Set<SignatureAlgorithm>,
        keys: any KeyProvider, userClaim: String = "sub", groupsClaim: String? = nil, leeway: TimeInterval = 30,
        allowPadding: Bool = false, requiredType: String? = nil, signer: String? = nil
    ) {
        self.name = name
        self.header = header
        self.issuer = issuer
        self.audiences = audiences
        self.algorithms = algorithms
        self.keys = keys
        self.userClaim = userClaim
        self.groupsClaim = groupsClaim
        self.leeway = min(max(leeway, 0), 60)
        self.allowPadding = allowPadding
        self.requiredType = requiredType
        self.signer = signer
    }
}

/// What a verified assertion says.
public struct VerifiedAssertion: Sendable {
    /// The user, from the configured claim.
    public var user: String
    /// Normalised groups.
    public var groups: Set<String>
    /// The key that verified it.
    public var kid: String?
    /// The algorithm.
    public var algorithm: SignatureAlgorithm
    /// All claims (for `sluice explain`).
    public var claims: [String: JSONValue]
}

/// Verifies a token for one source: structure, algorithm, key, signature — and only then the
/// claims (J17: nothing in the payload is read before the signature holds).
public struct AssertionVerifier: Sendable {
    /// The source.
    public let source: AssertionSource
    private let now: @Sendable () -> Date

    /// Creates a verifier; `now` is injectable for tests.
    public init(source: AssertionSource, now: @escaping @Sendable () -> Date = Date.init) {
        self.source = source
        self.now = now
    }

    /// Verifies `token`.
    public func verify(_ token: String) -> Result<VerifiedAssertion, AssertionError> {
        do { return .success(try self.check(token)) } catch { return .failure(error) }
    }

    private func check(_ token: String) throws(AssertionError) -> VerifiedAssertion {
        let jws = try CompactJWS.parse(token, allowPadding: self.source.allowPadding)
        // Case-sensitive and from a fixed list: "none", "NoNe", "HS256" and every other name fail (J5).
        guard let algorithm = SignatureAlgorithm(jwsName: jws.algorithm), self.source.algorithms.contains(algorithm) else {
            throw AssertionError(.algorithm, "alg \(jws.algorithm.prefix(16)) is not allowed")
        }
        if let type = self.source.requiredType {
            guard case .string(let typ)? = jws.header["typ"], Self.same(typ, type) else {
                throw AssertionError(.claims, "typ is not \(type)")
            }
        }
        if let signer = self.source.signer {
            guard case .string(let value)? = jws.header["signer"], Self.same(value, signer) else {
                throw AssertionError(.claims, "signer does not match")
            }
        }
        guard var keys = self.source.keys.current() else { throw AssertionError(.keysUnavailable, "no key set loaded") }
        var key = keys.key(kid: jws.kid, algorithm: algorithm)
        if key == nil, let kid = jws.kid, !keys.contains(kid: kid), let fresh = self.source.keys.refresh(missingKid: kid) {
            keys = fresh
            key = keys.key(kid: jws.kid, algorithm: algorithm)
        }
        guard let key else {
            throw AssertionError(.unknownKey, "no single key for kid \(jws.kid.map { String($0.prefix(64)) } ?? "(none)") and \(algorithm)")
        }
        guard key.key.verify(signature: jws.signature, message: jws.signingInput, algorithm: algorithm) else {
            throw AssertionError(.signature, "signature does not verify (kid \(key.kid ?? "-"))")
        }
        let claims: [String: JSONValue]
        do {
            guard case .object(let members) = try JSONParser.parse(jws.payload, json5: false).value else {
                throw AssertionError(.claims, "payload is not a JSON object")
            }
            claims = members
        } catch let error as AssertionError {
            throw error
        } catch {
            throw AssertionError(.claims, "payload is not valid JSON (\(error))")
        }
        try self.checkTimes(claims)
        guard case .string(let iss)? = claims["iss"], Self.same(iss, self.source.issuer) else {
            throw AssertionError(.claims, "iss does not match")
        }
        try self.checkAudience(claims["aud"])
        guard case .string(let user)? = claims[self.source.userClaim], GroupList.isAcceptableName(user) else {
            throw AssertionError(.claims, "claim \(self.source.userClaim) is missing, not a string, or not a usable name")
        }
        var groups: [String] = []
        if let name = self.source.groupsClaim {
            switch claims[name] {
            case nil, .null?: break
            case .string(let s)?:
                guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                    throw AssertionError(.claims, "claim \(name) contains control characters")
                }
                groups = GroupList.parse(s)
            case .array(let items)?:
                let strings = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
                guard strings.count == items.count else { throw AssertionError(.claims, "claim \(name) holds a non-string") }
                groups = GroupList.parse(strings)
            default: throw AssertionError(.claims, "claim \(name) is neither a string nor an array")
            }
            guard groups.allSatisfy(GroupList.isAcceptableName) else {
                throw AssertionError(.claims, "a group name has control characters or is not in Unicode NFC")
            }
        }
        return VerifiedAssertion(user: user, groups: Set(groups), kid: key.kid, algorithm: algorithm, claims: claims)
    }

    /// Exact comparison (J21): byte for byte, not Swift's canonical equivalence.
    static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// `exp` required; `nbf` and `iat` checked when present; all must be finite JSON numbers (J18).
    private func checkTimes(_ claims: [String: JSONValue]) throws(AssertionError) {
        let now = self.now().timeIntervalSince1970
        let leeway = min(max(self.source.leeway, 0), 60)  // capped here too: `leeway` is a var
        func number(_ name: String) throws(AssertionError) -> Double? {
            switch claims[name] {
            case nil: return nil
            case .number(let n)? where n.isFinite && abs(n) < 1e13: return n
            default: throw AssertionError(.claims, "\(name) is not a NumericDate")
            }
        }
        guard let exp = try number("exp") else { throw AssertionError(.claims, "exp is missing") }
        if now >= exp + leeway { throw AssertionError(.expired, "expired \(Int(now - exp)) s ago") }
        if let nbf = try number("nbf"), now + leeway < nbf {
            throw AssertionError(.notYetValid, "nbf is \(Int(nbf - now)) s in the future")
        }
        if let iat = try number("iat"), iat > now + leeway {
            throw AssertionError(.notYetValid, "iat is \(Int(iat - now)) s in the future")
        }
    }

    private func checkAudience(_ value: JSONValue?) throws(AssertionError) {
        let audiences: [String]
        switch value {
        case .string(let s)?: audiences = [s]
        case .array(let items)?:
            audiences = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
            guard audiences.count == items.count else { throw AssertionError(.claims, "aud holds a non-string") }
        default: throw AssertionError(.claims, "aud is missing or not a string or array")
        }
        guard audiences.contains(where: { aud in self.source.audiences.contains { Self.same(aud, $0) } }) else {
            throw AssertionError(.claims, "aud does not match")
        }
    }
}
