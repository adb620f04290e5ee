import Crypto
import Synchronization

/// Request ids (`X-Request-Id`, logs, audit records): 12 hex digits, unique within the process
/// for 2^48 requests, and different from one start to the next.
///
/// Why not 6 random bytes per request, as before: OpenSSL's RAND_bytes took 5–7 % of the CPU of
/// a light request (`/healthz`, a cached job's JSON) in a profile, and an id needs to be unique,
/// not secret; nothing is decided by it.
enum RequestID {
    /// A random start, so ids of different starts and hosts do not line up.
    private static let base = SecureRandom.bytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    private static let counter = Atomic<UInt64>(0)

    /// The next id. Consecutive counts are spread by an odd multiplier, which is a bijection
    /// modulo 2^48, so no two of the first 2^48 ids are alike.
    static func next() -> String {
        let n = Self.counter.add(1, ordering: .relaxed).newValue
        let value = (Self.base &+ n &* 0x9E37_79B9_7F4A_7C15) & 0xFFFF_FFFF_FFFF
        return Hex.encode((0..<6).map { UInt8(truncatingIfNeeded: value >> (8 * (5 - $0))) })
    }
}
