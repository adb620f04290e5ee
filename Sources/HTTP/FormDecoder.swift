/// Decodes `application/x-www-form-urlencoded` text and percent-encoded path segments.
public enum FormDecoder {
    /// Decodes `a=1&b=2` into a dictionary; the first value of a repeated name wins.
    /// Malformed percent escapes are kept literally rather than failing the whole request.
    public static func decode(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = self.percentDecode(String(parts[0]), plusAsSpace: true) ?? String(parts[0])
            let value = parts.count > 1 ? (self.percentDecode(String(parts[1]), plusAsSpace: true) ?? String(parts[1])) : ""
            if result[name] == nil { result[name] = value }
        }
        return result
    }

    /// Percent-decodes `text`; returns nil if an escape is malformed or the result is not UTF-8.
    public static func percentDecode(_ text: String, plusAsSpace: Bool = false) -> String? {
        var text = text
        return text.withUTF8 { self.percentDecode($0, plusAsSpace: plusAsSpace) }
    }

    /// Percent-decodes UTF-8 bytes; returns nil if an escape is malformed or the result is not UTF-8.
    public static func percentDecode(_ text: UnsafeBufferPointer<UInt8>, plusAsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
                else { return nil }
                bytes.append(high << 4 | low)
            } else if plusAsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
