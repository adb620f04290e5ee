/// The only two JWS signature algorithms Sluice ever accepts (docs/security.md, JWT checklist J5).
public enum SignatureAlgorithm: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256, signature as the 64-byte `r ‖ s` (RFC 7518 §3.4).
    case es256 = "ES256"

    /// The algorithm for a JWS `alg` value, compared case-sensitively (`"rs256"`, `"none"` → nil).
    public init?(jwsName: some StringProtocol) {
        self.init(rawValue: String(jwsName))
    }

    /// The JWS name, `RS256` or `ES256`.
    public var jwsName: String { rawValue }

    /// The JWS name.
    public var description: String { rawValue }
}
