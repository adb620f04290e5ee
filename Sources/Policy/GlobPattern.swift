/// A pipeline-name pattern: `*` matches any run of characters, `?` one Unicode scalar, all else
/// literally.
///
/// Matching works on Unicode scalars compared by value, not on Swift `Character`s: `Character`
/// equality is canonical equivalence, under which `KPI-*` would match `\u{212A}PI-report` and a
/// value pattern `Köln` would match the decomposed `Ko\u{308}ln`. Scalars are equal exactly when
/// their UTF-8 bytes are.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the configuration.
    public let text: String
    private let scalars: [Unicode.Scalar]

    /// Creates a pattern.
    public init(_ text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
    }

    /// Equal when the patterns' bytes are.
    public static func == (a: GlobPattern, b: GlobPattern) -> Bool { a.scalars == b.scalars }

    /// Hashes the scalars (consistent with `==`).
    public func hash(into hasher: inout Hasher) { hasher.combine(self.scalars) }

    public var description: String { self.text }

    /// Whether the pattern contains wildcards (otherwise it names exactly one pipeline).
    public var isLiteral: Bool { !self.scalars.contains("*") && !self.scalars.contains("?") }

    /// Whether `name` matches. Iterative with single backtracking point, so it runs in
    /// O(pattern × name) even for hostile patterns like `*a*a*a*b`.
    public func matches(_ name: String) -> Bool {
        let s = Array(name.unicodeScalars)
        let p = self.scalars
        var (i, j) = (0, 0)
        var star: Int? = nil
        var mark = 0
        while i < s.count {
            if j < p.count && (p[j] == "?" || p[j] == s[i]) {
                i += 1
                j += 1
            } else if j < p.count && p[j] == "*" {
                star = j
                mark = i
                j += 1
            } else if let st = star {
                j = st + 1
                mark += 1
                i = mark
            } else {
                return false
            }
        }
        while j < p.count && p[j] == "*" { j += 1 }
        return j == p.count
    }
}
