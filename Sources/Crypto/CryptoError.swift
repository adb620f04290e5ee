/// Why a key or an input was refused by the Crypto layer.
///
/// The `reason` is written for logs and for `sluice check`; it never contains key material,
/// signatures, tokens or any other input bytes, only the name of the rule that failed and,
/// where useful, a size.
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure, stable enough for callers to branch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case malformedKey = "malformed key"
            case unsupportedKey = "unsupported key"
            case unusableKey = "unusable key"
            case privateKey = "private key material"
            case weakKey = "weak key"
            case invalidKey = "invalid key"
            case internalFailure = "internal failure"
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// The input is not a well-formed key: bad base64url, non-minimal integers, wrong
        /// coordinate sizes, a missing or mistyped member, a truncated DER structure.
        public static let malformedKey = Code(.malformedKey)
        /// A key type, curve or algorithm this package never accepts (`oct`, `OKP`, P-384, …).
        public static let unsupportedKey = Code(.unsupportedKey)
        /// A key that is well-formed but not meant for verifying RS256/ES256 signatures
        /// (`use` is not `sig`, `key_ops` lacks `verify`, `alg` names another algorithm).
        public static let unusableKey = Code(.unusableKey)
        /// A JWK that carries private members (`d`, `p`, `q`, …); a key set must hold only public keys.
        public static let privateKey = Code(.privateKey)
        /// A key that violates the size/exponent policy (RSA < 2048 or > 8192 bits, e ≠ 65537).
        public static let weakKey = Code(.weakKey)
        /// A key that libcrypto refuses (`EVP_PKEY_public_check` fails, point not on the curve).
        public static let invalidKey = Code(.invalidKey)
        /// libcrypto failed for a reason unrelated to the input (for example allocation).
        public static let internalFailure = Code(.internalFailure)

        /// A short lower-case name of the code.
        public var description: String { kind.rawValue }
    }

    /// The class of failure.
    public let code: Code
    /// A human-readable explanation free of secret or attacker-supplied material.
    public let reason: String

    /// Creates an error; `reason` must not contain key or token material.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `"<code>: <reason>"`.
    public var description: String { "\(code): \(reason)" }
}
