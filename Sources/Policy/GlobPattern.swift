/// A pipeline-name pattern: `*` matches any run of characters, `?` one character, all else literally.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the configuration.
    public let text: String
    private let characters: [Character]

    /// Creates a pattern.
    public init(_ text: String) {
        self.text = text
        self.characters = Array(text)
    }

    public var description: String { self.text }

    /// Whether the pattern contains wildcards (otherwise it names exactly one pipeline).
    public var isLiteral: Bool { !self.characters.contains("*") && !self.characters.contains("?") }

    /// Whether `name` matches. Iterative with single backtracking point, so it runs in
    /// O(pattern × name) even for hostile patterns like `*a*a*a*b`.
    public func matches(_ name: String) -> Bool {
        let s = Array(name)
        let p = self.characters
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
