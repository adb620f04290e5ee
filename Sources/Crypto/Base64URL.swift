/// The URL-safe base64 alphabet without padding, as JOSE uses it (RFC 7515 §2, RFC 4648 §5).
///
/// Decoding is strict on purpose (docs/security.md, JWT checklist J3): one token must have exactly
/// one encoding, so that what was verified is what was read.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Maps an ASCII byte to its 6-bit value, or 0xFF for anything outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as unpadded base64url.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(alphabet[Int(chunk >> 6 & 0x3F)])
            out.append(alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        switch input.count - index {
        case 1:
            let chunk = UInt32(input[index]) << 16
            out.append(alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
        case 2:
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            out.append(alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(alphabet[Int(chunk >> 6 & 0x3F)])
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strict unpadded base64url, or returns nil.
    ///
    /// Rejected: any character outside `A–Z a–z 0–9 - _` (so `=`, whitespace, `+`, `/`), a length
    /// with remainder 1 modulo 4, and non-zero unused bits in the last character (which would
    /// give one byte string several encodings). The empty string decodes to no bytes.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(utf8: Array(text.utf8))
    }

    /// Like ``decode(_:)``, but also accepts the padded form that some proxies (AWS ALB) send:
    /// up to two trailing `=` are removed when the padded length is a multiple of 4 and the
    /// padding is exactly what that length needs; the rest is then decoded strictly.
    public static func decodeAllowingPadding(_ text: some StringProtocol) -> [UInt8]? {
        var bytes = Array(text.utf8)
        let equals = UInt8(ascii: "=")
        guard bytes.last == equals else { return decode(utf8: bytes) }
        guard bytes.count % 4 == 0 else { return nil }
        var padding = 0
        while bytes.last == equals, padding < 2 {
            bytes.removeLast()
            padding += 1
        }
        // 1 pad leaves a remainder of 3, 2 pads leave 2; a third '=' is left in place and fails
        // the alphabet check below.
        guard bytes.count % 4 == 4 - padding else { return nil }
        return decode(utf8: bytes)
    }

    private static func decode(utf8 input: [UInt8]) -> [UInt8]? {
        let remainder = input.count % 4
        guard remainder != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = values[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits (2 after a remainder of 3, 4 after a remainder of 2) must be zero.
        guard accumulator == 0 else { return nil }
        return out
    }
}
