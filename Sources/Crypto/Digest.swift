internal import CCrypto

/// SHA-256 digests through OpenSSL's EVP interface.
public enum SHA256 {
    /// The digest of `bytes` (32 bytes).
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ Self.hash(UnsafeRawBufferPointer($0)) }) { return digest }
        return Array(bytes).withUnsafeBytes { Self.hash($0) }
    }

    /// The digest of `bytes`, read in place (32 bytes).
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { Self.hash($0) }
    }

    private static func hash(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var length: UInt32 = 0
        let digest = [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { buffer, count in
            // EVP_Digest is the one-shot form; it allocates and frees its own context.
            let ok = EVP_Digest(raw.baseAddress, raw.count, buffer.baseAddress, &length, Self.algorithm.pointer, nil)
            // A failure here means libcrypto is broken (allocation failure); nothing sensible to recover.
            precondition(ok == 1, "EVP_Digest(SHA-256) failed")
            count = Int(length)
        }
        return digest
    }

    /// SHA-256 fetched once. Why: `EVP_sha256()` is OpenSSL 3's legacy descriptor, which every
    /// EVP_Digest call then fetches from the provider again (a lookup under a lock; 2 % of the
    /// CPU of a request in a profile of `/healthz`, which tags its body with a digest).
    private static let algorithm: FetchedDigest = {
        guard let fetched = EVP_MD_fetch(nil, "SHA2-256", nil) else { return FetchedDigest(pointer: EVP_sha256()) }
        return FetchedDigest(pointer: fetched)
    }()

    /// A fetched `EVP_MD`: immutable once fetched and safe to use from every thread (OpenSSL's
    /// threading rules), and never freed: it lives as long as the process.
    private struct FetchedDigest: @unchecked Sendable {
        let pointer: OpaquePointer?
    }

    /// The lower-case hex digest of a string's UTF-8 bytes.
    public static func hexHash(_ text: String) -> String {
        Hex.encode(self.hash(Array(text.utf8)))
    }
}

/// Lower-case hexadecimal encoding.
public enum Hex {
    /// Encodes bytes as lower-case hex.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable(Self.encode) { return text }
        return Self.encode(Array(bytes))
    }

    /// Encodes bytes as lower-case hex, read in place (the generic form above, called from
    /// another module, walked the bytes through protocol witnesses: 4 % of the CPU of a request).
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer(Self.encode)
    }

    private static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, b) in bytes.enumerated() {
                out[2 * i] = Self.digit(b >> 4)
                out[2 * i + 1] = Self.digit(b & 0x0f)
            }
            return bytes.count * 2
        }
    }

    @inline(__always)
    private static func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
