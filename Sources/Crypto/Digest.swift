internal import CCrypto

#if canImport(Glibc)
    import Glibc
#endif

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
            let ok: Int32
            if let context = Self.threadContext() {
                ok =
                    EVP_DigestInit_ex2(context, Self.algorithm.pointer, nil) == 1
                        && EVP_DigestUpdate(context, raw.baseAddress, raw.count) == 1
                        && EVP_DigestFinal_ex(context, buffer.baseAddress, &length) == 1 ? 1 : 0
            } else {
                // EVP_Digest is the one-shot form; it allocates and frees its own context.
                ok = EVP_Digest(raw.baseAddress, raw.count, buffer.baseAddress, &length, Self.algorithm.pointer, nil)
            }
            // A failure here means libcrypto is broken (allocation failure); nothing sensible to recover.
            precondition(ok == 1, "SHA-256 failed")
            count = Int(length)
        }
        return digest
    }

    /// The calling thread's digest context, made on first use and freed when the thread ends;
    /// nil if it cannot be made.
    ///
    /// Why one per thread: `EVP_Digest` makes a context for every call and takes a reference
    /// on the shared `EVP_MD` for it, an atomic counter every worker thread writes; 8 threads
    /// hashing on 2 cores took 300 ns per 50-byte hash that way and 90 ns with a context each
    /// (a C measurement with libcrypto 3.0, session 14). Request paths hash a service
    /// token and sometimes a body per request.
    private static func threadContext() -> OpaquePointer? {
        if let existing = pthread_getspecific(Self.contextKey.key) { return OpaquePointer(existing) }
        guard let context = EVP_MD_CTX_new() else { return nil }
        guard pthread_setspecific(Self.contextKey.key, UnsafeRawPointer(context)) == 0 else {
            EVP_MD_CTX_free(context)
            return nil
        }
        return context
    }

    /// The key of `threadContext`'s per-thread slot; its destructor frees a thread's context
    /// when the thread exits.
    private static let contextKey: ThreadKey = {
        var key = pthread_key_t()
        // Why a key and not a Swift thread-local: Swift has none on Linux that runs a
        // destructor, and contexts of ended threads must not leak.
        let rc = pthread_key_create(&key) { pointer in EVP_MD_CTX_free(OpaquePointer(pointer)) }
        precondition(rc == 0, "pthread_key_create failed")
        return ThreadKey(key: key)
    }()

    /// A `pthread_key_t`: created once, then only read.
    private struct ThreadKey: @unchecked Sendable {
        let key: pthread_key_t
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
