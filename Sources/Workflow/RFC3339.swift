/// The exact shape of an RFC 3339 date-time, checked byte by byte.
///
/// Why: Foundation's ISO 8601 parser accepts a valid prefix and ignores whatever follows, so
/// `2026-11-23T12:00:00Zjunk` parsed as noon. Every date-time Sluice reads (a `datetime`
/// parameter, a job-list `from`/`until` filter, a service token's `expires`) is checked with this
/// first, so trailing text is refused instead of silently dropped.
public enum RFC3339 {
    /// Whether `text` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` and nothing else (upper-case
    /// `T` and `Z`, which is all Foundation's parser takes; 1 to 9 fraction digits). Calendar
    /// ranges are left to the parser that follows.
    public static func isDateTime(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.upperBound <= b.count && b[range].allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        func byte(_ i: Int, _ allowed: UInt8...) -> Bool { i < b.count && allowed.contains(b[i]) }
        guard digits(0..<4), byte(4, 0x2D), digits(5..<7), byte(7, 0x2D), digits(8..<10), byte(10, 0x54),
            digits(11..<13), byte(13, 0x3A), digits(14..<16), byte(16, 0x3A), digits(17..<19)
        else { return false }
        var i = 19
        if byte(i, 0x2E) {
            var n = 0
            i += 1
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                i += 1
                n += 1
            }
            guard (1...9).contains(n) else { return false }
        }
        if byte(i, 0x5A) { return i + 1 == b.count }
        guard byte(i, 0x2B, 0x2D), digits(i + 1..<i + 3), byte(i + 3, 0x3A), digits(i + 4..<i + 6) else { return false }
        return i + 6 == b.count
    }
}
