import HTTP
import Testing

@Suite struct FormDecoderTests {
    @Test("Pairs are decoded with plus as space and percent escapes")
    func basicPairs() {
        #expect(FormDecoder.decode("a=1&b=two+words&c=caf%C3%A9&d=%2B%26%3D") == ["a": "1", "b": "two words", "c": "café", "d": "+&="])
        #expect(FormDecoder.decode("first+name=J%20D") == ["first name": "J D"])
    }

    @Test("The first value of a repeated name wins")
    func firstValueWins() {
        #expect(FormDecoder.decode("env=staging&env=prod") == ["env": "staging"])
        // Names are compared after decoding.
        #expect(FormDecoder.decode("e%6Ev=staging&env=prod") == ["env": "staging"])
    }

    @Test("A name without = has an empty value, and empty pairs are skipped")
    func emptyParts() {
        #expect(FormDecoder.decode("flag&&x=1&") == ["flag": "", "x": "1"])
        #expect(FormDecoder.decode("") == [:])
        #expect(FormDecoder.decode("&&&") == [:])
        #expect(FormDecoder.decode("=v") == ["": "v"])
        #expect(FormDecoder.decode("a==b") == ["a": "=b"])
    }

    @Test("Malformed escapes are kept literally instead of failing the whole text")
    func malformedEscapesKept() {
        #expect(FormDecoder.decode("a=%zz&b=1") == ["a": "%zz", "b": "1"])
        #expect(FormDecoder.decode("a=100%&b=%4") == ["a": "100%", "b": "%4"])
        #expect(FormDecoder.decode("%zz=x") == ["%zz": "x"])
        #expect(FormDecoder.decode("bad=%ff&good=%41") == ["bad": "%ff", "good": "A"])
    }

    @Test("Percent-decoding decodes upper- and lower-case hex escapes")
    func percentDecode() {
        #expect(FormDecoder.percentDecode("%41%62%2f%2F") == "Ab//")
        #expect(FormDecoder.percentDecode("plain") == "plain")
        #expect(FormDecoder.percentDecode("") == "")
        #expect(FormDecoder.percentDecode("%F0%9F%9A%80") == "🚀")
    }

    @Test("Plus is a space only when asked")
    func plusAsSpace() {
        #expect(FormDecoder.percentDecode("a+b") == "a+b")
        #expect(FormDecoder.percentDecode("a+b", plusAsSpace: true) == "a b")
        #expect(FormDecoder.percentDecode("a%2Bb", plusAsSpace: true) == "a+b")
    }

    @Test(
        "Percent-decoding refuses malformed escapes",
        arguments: ["%", "%4", "%zz", "%4g", "a%", "%%41", "%-1", "% 1"])
    func percentDecodeMalformed(text: String) {
        #expect(FormDecoder.percentDecode(text) == nil)
    }

    @Test(
        "Percent-decoding refuses bytes that are not UTF-8",
        arguments: ["%ff", "%FE%FF", "%C3", "%C0%AF", "%ED%A0%80", "%F8%88%80%80%80", "ok%80"])
    func percentDecodeInvalidUTF8(text: String) {
        #expect(FormDecoder.percentDecode(text) == nil)
    }

    @Test("An encoded NUL decodes to a NUL character, which callers must validate")
    func encodedNul() {
        #expect(FormDecoder.percentDecode("a%00b") == "a\u{0}b")
    }

    @Test("A large form with many pairs decodes completely and keeps first values")
    func oversized() {
        let pairs = (0..<20_000).map { "k\($0 % 1000)=v\($0)" }.joined(separator: "&")
        let decoded = FormDecoder.decode(pairs)
        #expect(decoded.count == 1000)
        #expect(decoded["k0"] == "v0")
        #expect(decoded["k999"] == "v999")
        let long = FormDecoder.decode("x=" + String(repeating: "%41", count: 200_000))
        #expect(long["x"]?.count == 200_000)
    }
}
