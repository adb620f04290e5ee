import Policy
import Testing

@Suite struct GlobPatternTests {
    @Test("A star matches any run of characters, including none")
    func star() {
        let all = GlobPattern("*")
        for name in ["", "a", "etl-nightly", "x.y_z", "ünï"] { #expect(all.matches(name)) }
        #expect(GlobPattern("a*b").matches("ab"))
        #expect(GlobPattern("a*b").matches("a-long-b"))
        #expect(!GlobPattern("a*b").matches("a-long-bc"))
        #expect(GlobPattern("**").matches("anything"))
    }

    @Test("A question mark matches exactly one character")
    func questionMark() {
        let p = GlobPattern("etl-?")
        #expect(p.matches("etl-1"))
        #expect(p.matches("etl-é"))
        #expect(!p.matches("etl-"))
        #expect(!p.matches("etl-12"))
        #expect(GlobPattern("???").matches("abc"))
        #expect(!GlobPattern("???").matches("ab"))
    }

    @Test("A literal pattern matches only the same name, case-sensitively")
    func literal() {
        let p = GlobPattern("etl-nightly")
        #expect(p.matches("etl-nightly"))
        #expect(!p.matches("ETL-nightly"))
        #expect(!p.matches("etl-nightly2"))
        #expect(!p.matches("xetl-nightly"))
        #expect(!p.matches("etl"))
        #expect(GlobPattern("").matches(""))
        #expect(!GlobPattern("").matches("a"))
    }

    @Test("A prefix pattern such as etl-* matches whole names only")
    func prefix() {
        let p = GlobPattern("etl-*")
        #expect(p.matches("etl-"))
        #expect(p.matches("etl-nightly"))
        #expect(p.matches("etl-a-b-c"))
        #expect(!p.matches("etl"))
        #expect(!p.matches("my-etl-nightly"))
        #expect(!p.matches("Etl-nightly"))
        #expect(!p.matches(" etl-nightly"))
    }

    @Test("Patterns never match a part of a name")
    func noPartialMatches() {
        #expect(!GlobPattern("nightly").matches("etl-nightly"))
        #expect(!GlobPattern("etl").matches("etl-nightly"))
        #expect(!GlobPattern("*nightly").matches("etl-nightly-2"))
        #expect(GlobPattern("*nightly*").matches("etl-nightly-2"))
        #expect(!GlobPattern("?tl").matches("etl-x"))
    }

    @Test("Regular-expression characters are literal")
    func noRegex() {
        #expect(!GlobPattern("etl.nightly").matches("etl-nightly"))
        #expect(GlobPattern("etl.nightly").matches("etl.nightly"))
        #expect(!GlobPattern("[a-z]").matches("a"))
        #expect(GlobPattern("[a-z]").matches("[a-z]"))
        #expect(!GlobPattern("a+").matches("aa"))
    }

    @Test("Backtracking finds a later match after a false start")
    func backtracking() {
        #expect(GlobPattern("*ab").matches("aab"))
        #expect(GlobPattern("a*b*c").matches("abxbxc"))
        #expect(!GlobPattern("a*b*c").matches("abxbx"))
        #expect(GlobPattern("*-*-*").matches("a-b-c"))
    }

    @Test("A hostile pattern against a long name completes quickly and does not match", .timeLimit(.minutes(1)))
    func hostilePattern() {
        let name = String(repeating: "a", count: 10_000)
        let start = ContinuousClock.now
        #expect(!GlobPattern("*a*a*a*a*a*a*a*a*b").matches(name))
        #expect(!GlobPattern(String(repeating: "*a", count: 200) + "*b").matches(String(repeating: "a", count: 100_000)))
        #expect(GlobPattern("*a*a*a*a*a*a*a*a*").matches(name))
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("isLiteral tells patterns with wildcards apart")
    func isLiteral() {
        #expect(GlobPattern("etl-nightly").isLiteral)
        #expect(!GlobPattern("etl-*").isLiteral)
        #expect(!GlobPattern("etl-?").isLiteral)
        #expect(GlobPattern("etl-*").description == "etl-*")
        #expect(GlobPattern("etl-*").text == "etl-*")
    }
}
