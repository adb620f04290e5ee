internal import CCrypto

/// SHA-256 digests through libcrypto (its low-level SHA-256; see `ccrypto_sha256`).
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
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            // Through libcrypto's low-level SHA-256, not EVP (see `ccrypto_sha256` for why).
            // It allocates nothing, so it cannot fail short of a broken libcrypto.
            precondition(ccrypto_sha256(raw.baseAddress, raw.count, buffer.baseAddress) == 1, "SHA-256 failed")
            count = 32
        }
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
