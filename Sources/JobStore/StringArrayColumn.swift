/// The stored text of an array of strings (task needs and argv, a job's secret parameter names):
/// a JSON array of strings. Every store writes this representation, so the columns mean the same
/// whichever database holds them.
///
/// These are the hot columns of big jobs. Strings that need no JSON escaping take a fast path
/// that skips Foundation's coders; anything else goes through them, so every stored value is
/// valid JSON either way.
public enum StringArrayColumn {
    /// Whether `s` can be written between quotes as is.
    private static func isPlain(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// The column text for `values`: `[]`, the compact `["a","b"]` when no string needs escaping,
    /// else what Foundation's `JSONEncoder` writes.
    public static func encode(_ values: [String]) throws -> String {
        if values.isEmpty { return "[]" }
        if values.allSatisfy(Self.isPlain) { return "[\"" + values.joined(separator: "\",\"") + "\"]" }
        return try JSONCoding.encode(values)
    }

    /// The strings stored as `text`: any JSON array of strings, including what earlier versions
    /// wrote through Foundation's coders (escaped slashes). Throws if `text` is not one.
    public static func decode(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        // Without a backslash no string in the array can contain an escaped quote, so `","`
        // only ever separates elements.
        let bytes = text.utf8
        if bytes.count >= 4, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]"), !bytes.contains(UInt8(ascii: "\\")) {
            // Scan the bytes once, splitting at `","`.
            var result: [String] = []
            let all = Array(bytes)
            guard all[1] == UInt8(ascii: "\""), all[all.count - 2] == UInt8(ascii: "\"") else {
                return try JSONCoding.decode([String].self, text)
            }
            var start = 2
            var i = 2
            let end = all.count - 2
            while i < end {
                if all[i] == UInt8(ascii: "\""), i + 2 < all.count, all[i + 1] == UInt8(ascii: ","), all[i + 2] == UInt8(ascii: "\"") {
                    result.append(String(decoding: all[start..<i], as: UTF8.self))
                    i += 3
                    start = i
                } else {
                    i += 1
                }
            }
            result.append(String(decoding: all[start..<end], as: UTF8.self))
            return result
        }
        return try JSONCoding.decode([String].self, text)
    }
}
