import Testing

@testable import Sluice

/// `If-None-Match` against an entity tag: lists, spaces, weak tags, `*`, and bytes only.
@Suite("Conditional GET: If-None-Match")
struct ConditionalGETTests {
    let tag = #""0123abcd""#

    @Test("The tag itself, in a list, with spaces or tabs around it, weak, or *: a match")
    func matches() {
        #expect(ConditionalGET.matches(self.tag, self.tag))
        #expect(ConditionalGET.matches(#""x", "0123abcd""#, self.tag))
        #expect(ConditionalGET.matches(" \t\(self.tag) \t", self.tag))
        #expect(ConditionalGET.matches("W/\(self.tag)", self.tag))
        #expect(ConditionalGET.matches(#""a",W/"0123abcd","b""#, self.tag))
        #expect(ConditionalGET.matches("*", self.tag))
        #expect(ConditionalGET.matches(" * ", self.tag))
    }

    @Test("The tag is the quoted first half of the body's SHA-256 in hex")
    func tagOfBody() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3...
        #expect(ConditionalGET.tag(of: Array("abc".utf8)) == #""ba7816bf8f01cfea414140de5dae2223""#)
        #expect(ConditionalGET.tag(of: []) == #""e3b0c44298fc1c149afbf4c8996fb924""#)
    }

    @Test("Absent, empty, other tags, a tag without quotes, a part of it, or a look-alike: no match")
    func misses() {
        #expect(!ConditionalGET.matches(nil, self.tag))
        #expect(!ConditionalGET.matches("", self.tag))
        #expect(!ConditionalGET.matches(",,", self.tag))
        #expect(!ConditionalGET.matches(#""0123abce""#, self.tag))
        #expect(!ConditionalGET.matches("0123abcd", self.tag))
        #expect(!ConditionalGET.matches(#""0123abcd"x"#, self.tag))
        #expect(!ConditionalGET.matches("W/", self.tag))
        #expect(!ConditionalGET.matches("w/\(self.tag)", self.tag))
        #expect(!ConditionalGET.matches("**", self.tag))
        // The same text in another normalization form is another tag (tags are opaque bytes).
        let composed = "\"caf\u{E9}\""
        #expect(ConditionalGET.matches(composed, composed))
        #expect(!ConditionalGET.matches("\"cafe\u{301}\"", composed))
    }
}
