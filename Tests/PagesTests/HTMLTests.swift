import Pages
import Testing

@Suite struct HTMLTests {
    @Test("The five HTML-significant characters are escaped")
    func significantCharacters() {
        #expect(HTML.escape("&") == "&amp;")
        #expect(HTML.escape("<") == "&lt;")
        #expect(HTML.escape(">") == "&gt;")
        #expect(HTML.escape("\"") == "&quot;")
        #expect(HTML.escape("'") == "&#39;")
        #expect(HTML.escape("a & b < c > d \" e ' f") == "a &amp; b &lt; c &gt; d &quot; e &#39; f")
    }

    @Test("Escaping is not idempotent: entities are escaped again")
    func doubleEscape() {
        #expect(HTML.escape("&amp;") == "&amp;amp;")
        #expect(HTML.escape("&lt;script&gt;") == "&amp;lt;script&amp;gt;")
    }

    @Test("Script and attribute-breaking payloads lose every markup character")
    func payloads() {
        for payload in [
            "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'><svg onload=alert(1)>", "javascript:alert(1)//<!--",
        ] {
            let escaped = HTML.escape(payload)
            #expect(!escaped.contains("<"))
            #expect(!escaped.contains(">"))
            #expect(!escaped.contains("\""))
            #expect(!escaped.contains("'"))
        }
        #expect(HTML.escape("\"><img src=x onerror=alert(1)>") == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
    }

    @Test("Control characters and the ANSI escape become U+FFFD; tab, newline and carriage return stay")
    func controlCharacters() {
        #expect(HTML.escape("\u{1b}[31mred\u{1b}[0m") == "\u{FFFD}[31mred\u{FFFD}[0m")
        #expect(HTML.escape("a\u{0}b\u{7}c\u{8}d") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d")
        #expect(HTML.escape("\u{7f}") == "\u{FFFD}")
        #expect(HTML.escape("\u{85}\u{9b}") == "\u{FFFD}\u{FFFD}")
        #expect(HTML.escape("a\tb\nc\r\nd") == "a\tb\nc\r\nd")
        for value in UInt32(0)..<0x20 where ![0x09, 0x0a, 0x0d].contains(value) {
            #expect(HTML.escape(String(Unicode.Scalar(value)!)) == "\u{FFFD}")
        }
    }

    @Test("Other text, including non-ASCII, passes through unchanged")
    func passThrough() {
        #expect(HTML.escape("") == "")
        #expect(HTML.escape("etl-nightly_1.0 ~ café 🚀 \u{a0}") == "etl-nightly_1.0 ~ café 🚀 \u{a0}")
    }

    @Test("A path segment keeps unreserved characters and percent-encodes everything else")
    func pathSegment() {
        #expect(HTML.pathSegment("etl-nightly_1.0~AZaz09") == "etl-nightly_1.0~AZaz09")
        #expect(HTML.pathSegment("a b/c?d#e&f") == "a%20b%2Fc%3Fd%23e%26f")
        #expect(HTML.pathSegment("café") == "caf%C3%A9")
        #expect(HTML.pathSegment("\"><script>") == "%22%3E%3Cscript%3E")
        #expect(HTML.pathSegment("..") == "..")
        #expect(HTML.pathSegment("%2F") == "%252F")
        #expect(HTML.pathSegment("") == "")
        #expect(HTML.pathSegment("\u{0}\n") == "%00%0A")
    }
}
