internal import CCrypto

/// HMAC with SHA-256 (RFC 2104) through OpenSSL's `EVP_Q_mac`.
///
/// The key should be at least 32 random bytes and used for one purpose only (RFC 7518 §3.2,
/// RFC 8725 §3.5); this type does not enforce that, so callers that create keys must.
public enum HMACSHA256 {
    /// The length of a tag in bytes.
    public static let tagSize = 32

    /// The 32-byte tag of `message` under `key`.
    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: tagSize)
        let ok = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                tag.withUnsafeMutableBufferPointer { t in
                    ccrypto_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, t.baseAddress)
                }
            }
        }
        // Failure means libcrypto cannot run HMAC-SHA-256 at all (allocation failure, missing
        // default provider); a wrong tag would be worse than stopping.
        precondition(ok == 1, "EVP_Q_mac(HMAC-SHA-256) failed")
        return tag
    }

    /// Whether `mac` is the full 32-byte tag of `message` under `key`, compared in constant time.
    /// Truncated tags are refused.
    public static func isValid(_ mac: [UInt8], key: [UInt8], message: [UInt8]) -> Bool {
        guard mac.count == tagSize else { return false }
        return ConstantTime.equals(authenticate(key: key, message: message), mac)
    }
}
