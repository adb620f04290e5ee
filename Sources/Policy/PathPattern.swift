/// A pattern for the decoded path of a request to a guarded upstream, segment by segment:
/// `/api/task_list` matches exactly that path; `*` inside a segment matches any run of
/// characters within that segment (`/api/*_list`); a last segment `**` matches the rest of the
/// path, including nothing (`/static/**` matches `/static`, `/static/` and `/static/a/b.js`).
///
/// Segments compare as Unicode scalars (bytes), never by canonical equivalence; see `GlobPattern`.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the configuration.
    public let text: String
    private let segments: [GlobPattern]
    private let matchesRest: Bool

    /// Why a pattern cannot be used.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with it.
        public let reason: String
        public var description: String { self.reason }
    }

    /// Parses a pattern.
    /// - Throws: `Invalid` unless it starts with `/`, has no empty, `.` or `..` segment except a
    ///   trailing slash, contains no `%`, `?`, `#` or `\`, and uses `**` only as its last segment.
    public init(_ text: String) throws(Invalid) {
        guard text.utf8.first == UInt8(ascii: "/") else { throw Invalid(reason: "must start with /") }
        if let bad = text.unicodeScalars.first(where: { "%?#\\".unicodeScalars.contains($0) || $0.value < 0x20 || $0.value == 0x7F }) {
            throw Invalid(
                reason: bad.value < 0x20 || bad.value == 0x7F
                    ? "contains a control character" : "contains \"\(bad)\" (write the decoded path; patterns never see the query)")
        }
        var pieces = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var rest = false
        if pieces.last == "**" {
            rest = true
            pieces.removeLast()
        }
        for (index, piece) in pieces.enumerated() {
            if piece.isEmpty && index != pieces.count - 1 { throw Invalid(reason: "has an empty segment (//)") }
            if piece == "." || piece == ".." { throw Invalid(reason: "has a dot segment") }
            if piece.contains("**") { throw Invalid(reason: "** may only be the whole last segment") }
        }
        self.text = text
        self.segments = pieces.map(GlobPattern.init)
        self.matchesRest = rest
    }

    public var description: String { self.text }

    /// Equal when written with the same bytes.
    public static func == (a: PathPattern, b: PathPattern) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    /// Hashes the bytes (consistent with `==`).
    public func hash(into hasher: inout Hasher) { hasher.combine(Array(self.text.utf8)) }

    /// Whether `path` matches.
    public func matches(_ path: UpstreamPath) -> Bool {
        let segments = path.segments
        if self.matchesRest {
            guard segments.count >= self.segments.count else { return false }
        } else {
            guard segments.count == self.segments.count else { return false }
        }
        return zip(self.segments, segments).allSatisfy { pattern, segment in pattern.matches(segment) }
    }
}
