#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 network such as `127.0.0.1/32` or `fd00::/8`.
public struct IPRange: Sendable, Hashable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefix: Int
    /// The range as written.
    public let description: String

    /// Parses `address/prefix` or a single address (a full-length prefix).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(of: String(parts[0])) else { return nil }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...bits).contains(p), parts[1].allSatisfy(\.isNumber) else { return nil }
            prefix = p
        }
        self.network = address
        self.prefix = prefix
        self.description = text
    }

    /// Whether `address` (text, as in `REMOTE_ADDR`) lies in the range. An IPv4-mapped IPv6
    /// address (`::ffff:127.0.0.1`) matches the IPv4 range.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16 && self.network.count == 4 && bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == self.network.count else { return false }
        var remaining = self.prefix
        for (a, b) in zip(bytes, self.network) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : ~(0xff >> UInt8(remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }

    /// The address's bytes (4 or 16) via `inet_pton`, which accepts only canonical dotted quads
    /// and valid IPv6 text; nil otherwise.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }
}
