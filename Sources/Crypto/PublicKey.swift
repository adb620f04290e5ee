internal import CCrypto
import Locking

/// A public key that verifies RS256 or ES256 signatures, and nothing else.
///
/// Every key is checked once, when it is created (docs/security.md, JWT checklist J12/J13): RSA
/// keys need a modulus of 2048 to 8192 bits and the exponent 65537; EC keys must be on P-256. Both
/// must pass `EVP_PKEY_public_check`. A key is bound to exactly one algorithm (J6): an RSA key
/// verifies only RS256, a P-256 key only ES256. Verification does no parsing, so a key can be
/// cached and used for many requests.
///
/// `@unchecked Sendable`: the wrapped `EVP_PKEY` is never modified after `init`, and OpenSSL
/// allows one `EVP_PKEY` to be read by several threads at once (doc/man7/openssl-threads.pod);
/// the other stored properties are immutable. Verification contexts, which are mutable, live in
/// a pool behind a `Locked` and are lent to one thread at a time (see `VerifyContext`).
public final class PublicKey: @unchecked Sendable {
    /// Smallest accepted RSA modulus (RFC 7518 §3.3: "2048 bits or larger MUST be used").
    public static let minimumRSABits = 2048
    /// Largest accepted RSA modulus; larger keys only cost CPU (the same cap as Go's crypto/tls).
    public static let maximumRSABits = 8192

    /// `EVP_PKEY *`, owned; freed in `deinit`.
    private let pkey: OpaquePointer
    /// The one algorithm this key verifies.
    public let algorithm: SignatureAlgorithm
    /// The key size in bits (modulus size for RSA, 256 for P-256).
    public let bits: Int
    /// `EVP_PKEY_get_size`: for RSA the modulus length in bytes, which every signature must have.
    private let rsaSignatureSize: Int

    /// An `EVP_PKEY_CTX *`. `@unchecked Sendable` so that the pool can hold it. Confinement: a
    /// context is either in the pool, where nobody uses it, or taken out by exactly one thread
    /// (`popLast` under the pool's lock), which uses it and then puts it back or frees it; the
    /// lock orders one borrower's use before the next one's.
    private struct VerifyContext: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Ready verification contexts, each lent to one thread at a time.
    private let contexts = Locked<[VerifyContext]>([])
    /// Contexts kept for reuse at most (more may exist briefly under load).
    private static let poolSize = 8

    private init(pkey: OpaquePointer, algorithm: SignatureAlgorithm) {
        self.pkey = pkey
        self.algorithm = algorithm
        self.bits = Int(EVP_PKEY_get_bits(pkey))
        self.rsaSignatureSize = Int(EVP_PKEY_get_size(pkey))
    }

    deinit {
        for context in self.contexts.withLock({ $0 }) { EVP_PKEY_CTX_free(context.pointer) }
        EVP_PKEY_free(pkey)
    }

    // MARK: - Construction

    /// An RS256 key from the big-endian modulus and public exponent (the decoded JWK `n` and `e`).
    ///
    /// Both must be minimal (non-empty, no leading zero byte, RFC 7518 §6.3.1); the modulus must be
    /// 2048–8192 bits; the exponent must be exactly 65537; the key must pass `EVP_PKEY_public_check`.
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(CryptoError) -> PublicKey {
        guard let first = modulus.first, first != 0 else {
            throw CryptoError(.malformedKey, "RSA modulus is empty or has a leading zero byte")
        }
        guard let firstE = exponent.first, firstE != 0 else {
            throw CryptoError(.malformedKey, "RSA exponent is empty or has a leading zero byte")
        }
        // Check the size before libcrypto sees the numbers: an oversized modulus only costs CPU.
        let modulusBits = modulus.count * 8 - first.leadingZeroBitCount
        guard modulusBits >= minimumRSABits, modulusBits <= maximumRSABits else {
            throw CryptoError(
                .weakKey, "RSA modulus has \(modulusBits) bits; \(minimumRSABits)–\(maximumRSABits) are accepted")
        }
        // Debian's OpenSSL is not in FIPS mode, so public_check accepts e = 3; the rule is ours.
        guard exponent == [0x01, 0x00, 0x01] else {
            throw CryptoError(.weakKey, "RSA public exponent is not 65537")
        }
        let made = modulus.withUnsafeBufferPointer { n in
            exponent.withUnsafeBufferPointer { e in
                ccrypto_rsa_public_key(n.baseAddress, n.count, e.baseAddress, e.count)
            }
        }
        guard let pkey = made else {
            ERR_clear_error()
            throw CryptoError(.invalidKey, "libcrypto refused the RSA public key")
        }
        return try checked(pkey, algorithm: .rs256)
    }

    /// An ES256 key from the 32-byte big-endian affine coordinates of a P-256 point (the decoded
    /// JWK `x` and `y`). Points not on the curve are rejected.
    public static func p256(x: [UInt8], y: [UInt8]) throws(CryptoError) -> PublicKey {
        // RFC 7518 §6.2.1.2–3: the coordinates "MUST be the full size", so neither 31 nor 33 bytes.
        guard x.count == 32, y.count == 32 else {
            throw CryptoError(.malformedKey, "P-256 coordinates must be exactly 32 bytes each")
        }
        let made = x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in ccrypto_p256_public_key(px.baseAddress, py.baseAddress) }
        }
        guard let pkey = made else {
            // fromdata already decodes the point and refuses one that is not on the curve.
            ERR_clear_error()
            throw CryptoError(.invalidKey, "libcrypto refused the P-256 point (not on the curve?)")
        }
        return try checked(pkey, algorithm: .es256)
    }

    /// A key from a DER `SubjectPublicKeyInfo` (the body of a PEM `PUBLIC KEY`), with the same
    /// policy as ``rsa(modulus:exponent:)`` and ``p256(x:y:)``. Other key types (including RSA-PSS
    /// and EC keys with explicit curve parameters) and curves are refused, and so is trailing data
    /// after the structure. A compressed P-256 point is accepted; libcrypto decompresses it.
    public static func fromSubjectPublicKeyInfoDER(_ der: [UInt8]) throws(CryptoError) -> PublicKey {
        let parsed = der.withUnsafeBufferPointer { ccrypto_pubkey_from_spki($0.baseAddress, $0.count) }
        guard let pkey = parsed else {
            ERR_clear_error()
            throw CryptoError(.malformedKey, "not a DER SubjectPublicKeyInfo")
        }
        switch ccrypto_key_family(pkey) {
        case CCRYPTO_KEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(pkey))
            guard bits >= minimumRSABits, bits <= maximumRSABits else {
                EVP_PKEY_free(pkey)
                throw CryptoError(
                    .weakKey, "RSA modulus has \(bits) bits; \(minimumRSABits)–\(maximumRSABits) are accepted")
            }
            guard ccrypto_rsa_public_exponent(pkey) == 65537 else {
                EVP_PKEY_free(pkey)
                ERR_clear_error()
                throw CryptoError(.weakKey, "RSA public exponent is not 65537")
            }
            return try checked(pkey, algorithm: .rs256)
        case CCRYPTO_KEY_EC:
            guard ccrypto_ec_is_p256(pkey) == 1 else {
                EVP_PKEY_free(pkey)
                ERR_clear_error()
                throw CryptoError(.unsupportedKey, "EC key is not on P-256")
            }
            return try checked(pkey, algorithm: .es256)
        default:
            EVP_PKEY_free(pkey)
            throw CryptoError(.unsupportedKey, "only RSA and P-256 public keys are accepted")
        }
    }

    /// Runs `EVP_PKEY_public_check` and wraps the key; frees it if the check fails.
    private static func checked(_ pkey: OpaquePointer, algorithm: SignatureAlgorithm) throws(CryptoError) -> PublicKey {
        // public_check is what catches an RSA e = 1 (which "verifies" forged signatures) and
        // off-curve or infinity EC points; the policy checks above do not replace it.
        guard ccrypto_public_check(pkey) == 1 else {
            EVP_PKEY_free(pkey)
            ERR_clear_error()
            throw CryptoError(.invalidKey, "EVP_PKEY_public_check rejected the \(algorithm) key")
        }
        return PublicKey(pkey: pkey, algorithm: algorithm)
    }

    // MARK: - Verification

    /// Whether `signature` is a valid `algorithm` signature of `message` under this key.
    ///
    /// False whenever `algorithm` is not this key's algorithm. RS256 signatures must be exactly as
    /// long as the modulus (RFC 8017 §8.2.2); ES256 signatures must be the 64-byte `r ‖ s`
    /// (RFC 7518 §3.4), which libcrypto converts to DER. Only `EVP_PKEY_verify` returning 1
    /// counts as valid (J17).
    public func verify(signature: [UInt8], message: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        guard algorithm == self.algorithm else { return false }
        switch algorithm {
        case .rs256:
            guard signature.count == rsaSignatureSize else { return false }
            return digestVerify(signature, message)
        case .es256:
            guard signature.count == 64 else { return false }
            var der = [UInt8](repeating: 0, count: Int(CCRYPTO_P256_DER_MAX))
            let length = signature.withUnsafeBufferPointer { sig in
                der.withUnsafeMutableBufferPointer { out in
                    ccrypto_ecdsa_p1363_to_der(sig.baseAddress, 32, out.baseAddress, out.count)
                }
            }
            guard length > 0 else {
                ERR_clear_error()
                return false
            }
            return digestVerify(Array(der.prefix(Int(length))), message)
        }
    }

    /// Whether `signature`, an ECDSA signature in DER (the X9.62 / RFC 3279 form), is valid for
    /// `message` with SHA-256 under this P-256 key. Not used for JOSE, where ES256 signatures are
    /// `r ‖ s`; it exists for DER test vectors. False for RSA keys. libcrypto insists on strict
    /// DER (it re-encodes and compares), so BER variants fail.
    func verifyDER(signature: [UInt8], message: [UInt8]) -> Bool {
        guard algorithm == .es256, !signature.isEmpty, signature.count <= 1024 else { return false }
        return digestVerify(signature, message)
    }

    private func digestVerify(_ signature: [UInt8], _ message: [UInt8]) -> Bool {
        guard let context = self.contexts.withLock({ $0.popLast() }) ?? ccrypto_verify_context(pkey).map(VerifyContext.init) else {
            ERR_clear_error()
            return false
        }
        let rc = signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                ccrypto_verify_with_context(context.pointer, sig.baseAddress, sig.count, msg.baseAddress, msg.count)
            }
        }
        let kept = self.contexts.withLock { pool in
            guard pool.count < Self.poolSize else { return false }
            pool.append(context)
            return true
        }
        if !kept { EVP_PKEY_CTX_free(context.pointer) }
        // 0 is a bad signature, negative an error: both are "not valid", and both may leave
        // entries in this thread's error queue that must not be blamed on a later call.
        if rc != 1 { ERR_clear_error() }
        return rc == 1
    }
}
