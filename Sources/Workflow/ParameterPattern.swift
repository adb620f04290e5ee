import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX extended regular expression that the whole value of a string parameter must match.
///
/// Matching uses glibc's `regexec`, which simulates the automaton instead of backtracking, so
/// patterns such as `(a+)+` or `(a|a)*b` run in time linear in the value rather than exponential
/// (the trap of backtracking engines like `NSRegularExpression` or Swift `Regex`). The two things
/// that break that guarantee are refused when the pattern is read: back-references (`\1`), which
/// force backtracking, and large counted repetitions (`{n,m}` above 100), which blow up the
/// automaton. Patterns are at most 256 bytes; values at most `PipelineDefinition.maxParameterBytes`.
public struct ParameterPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as configured (without the implied anchors).
    public let source: String
    private let compiled: CompiledRegex

    /// The longest pattern accepted, in bytes.
    public static let maxBytes = 256
    /// The largest repetition count accepted in `{n}` / `{n,m}`.
    public static let maxRepetition = 100

    /// Compiles `source`, anchored at both ends.
    /// - Throws: `TemplateError` saying why the pattern is refused.
    public init(_ source: String) throws(TemplateError) {
        guard !source.isEmpty, source.utf8.count <= Self.maxBytes, !source.utf8.contains(0) else {
            throw TemplateError("a pattern must be 1 to \(Self.maxBytes) bytes without NUL")
        }
        try Self.checkSafety(source)
        self.source = source
        self.compiled = try CompiledRegex("^(" + source + ")$")
    }

    /// Whether all of `value` matches.
    public func matches(_ value: String) -> Bool { self.compiled.matches(value) }

    public var description: String { self.source }

    public static func == (a: Self, b: Self) -> Bool { a.source == b.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.source) }

    /// Refuses back-references and counted repetitions above `maxRepetition`.
    private static func checkSafety(_ source: String) throws(TemplateError) {
        let bytes = Array(source.utf8)
        var i = 0
        var inBracket = false
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") && !inBracket {
                if i + 1 < bytes.count, (0x31...0x39).contains(bytes[i + 1]) {
                    throw TemplateError("back-references (\\1 ... \\9) are not allowed: they make matching exponential")
                }
                i += 2
                continue
            }
            if b == UInt8(ascii: "[") && !inBracket {
                inBracket = true
                // A `]` right after `[` or `[^` is a literal member, not the end of the bracket.
                if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "^") { i += 1 }
                if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "]") { i += 1 }
            } else if b == UInt8(ascii: "]") && inBracket {
                inBracket = false
            } else if b == UInt8(ascii: "{") && !inBracket {
                var j = i + 1
                var number = 0
                while j < bytes.count, bytes[j] != UInt8(ascii: "}") {
                    if (0x30...0x39).contains(bytes[j]) {
                        number = min(number * 10 + Int(bytes[j] - 0x30), 1_000_000)
                        if number > Self.maxRepetition {
                            throw TemplateError("repetition counts above \(Self.maxRepetition) are not allowed")
                        }
                    } else {
                        number = 0
                    }
                    j += 1
                }
            }
            i += 1
        }
    }
}

/// A compiled `regex_t`, freed with its owner.
///
/// `@unchecked Sendable`, because one pattern of the configuration in force is matched by every
/// request thread at once. What makes that safe: the `regex_t` lives at a fixed heap address that
/// `regcomp` fills in `init` and `regfree` empties in `deinit`, when no other thread can hold the
/// object; in between Swift only passes the pointer on, and glibc's `regexec` serializes its own
/// use of the compiled automaton behind the lock inside it (`dfa->lock`, posix/regexec.c), so a
/// shared `regex_t` is safe to match from several threads. There is no Swift-side mutable state.
final class CompiledRegex: @unchecked Sendable {
    /// Owned; allocated and compiled in `init`, freed in `deinit`. A pointer rather than a stored
    /// `var regex_t`, so that matching needs no inout access (`&self.regex`) to a property of an
    /// object that many threads share: the pointer itself never changes.
    private let regex: UnsafeMutablePointer<regex_t>

    init(_ pattern: String) throws(TemplateError) {
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        regex.initialize(to: regex_t())
        let rc = regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB)
        guard rc == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, regex, &buffer, buffer.count)
            // A failed regcomp frees what it allocated; only our block is left.
            regex.deallocate()
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TemplateError("not a valid POSIX extended regular expression: \(message)")
        }
        self.regex = regex
    }

    func matches(_ value: String) -> Bool {
        // REG_NOSUB: no match positions are needed, only whether the anchored pattern matches.
        regexec(self.regex, value, 0, nil, 0) == 0
    }

    deinit {
        regfree(self.regex)
        self.regex.deallocate()
    }
}
