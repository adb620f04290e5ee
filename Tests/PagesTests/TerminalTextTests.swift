import Testing

@testable import Pages

/// `TerminalText`: log text as numbered lines with SGR colours as classes, nothing else of the
/// terminal getting through.
@Suite struct TerminalTextTests {
    @Test("Lines are numbered from the first line given, each with an anchor to itself")
    func numbering() {
        let html = TerminalText.html("a\nb\n", firstLine: 41)
        #expect(
            html
                == "<span class=\"line\" id=\"L41\"><a class=\"ln\" href=\"#L41\" aria-hidden=\"true\" tabindex=\"-1\">41</a>a</span>\n"
                + "<span class=\"line\" id=\"L42\"><a class=\"ln\" href=\"#L42\" aria-hidden=\"true\" tabindex=\"-1\">42</a>b</span>\n")
        #expect(TerminalText.html("").isEmpty)
        #expect(TerminalText.html("no newline").hasSuffix(">1</a>no newline</span>"))
    }

    @Test("SGR colours become classes, carry over lines, and reset")
    func colours() {
        let html = TerminalText.html("\u{1b}[31mred\n still\u{1b}[0m plain \u{1b}[1;92;44mbold\u{1b}[22m not\u{1b}[39;49m done")
        #expect(html.contains("<span class=\"t-f1\">red</span>"))
        #expect(html.contains("<span class=\"t-f1\"> still</span> plain "))
        #expect(html.contains("<span class=\"t-b t-f10 t-g4\">bold</span><span class=\"t-f10 t-g4\"> not</span> done"))
        #expect(TerminalText.html("\u{1b}[38;5;9mx\u{1b}[38;5;200my\u{1b}[38;2;1;2;3mz").contains("<span class=\"t-f9\">x</span>yz"))
        #expect(TerminalText.html("\u{9b}4mu").contains("<span class=\"t-u\">u</span>"), "the 8-bit CSI")
    }

    @Test("Everything else is dropped or escaped: cursor moves, titles, hyperlinks, private modes, markup")
    func hostile() {
        let input =
            "\u{1b}[2J\u{1b}[?25l\u{1b}]0;title\u{07}\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\<b onclick=x>'&\"\u{1b}[>1m\u{1b}(B\u{1}\u{7f}end"
        let html = TerminalText.html(input)
        #expect(!html.contains("\u{1b}") && !html.contains("title") && !html.contains("evil") && !html.contains("<b "))
        #expect(html.contains("link&lt;b onclick=x&gt;&#39;&amp;&quot;\u{FFFD}\u{FFFD}end"), "\(html)")
        #expect(!html.contains("style="))
        // A parameter list that does not end is dropped with the rest of the text it swallowed.
        #expect(TerminalText.html("a\u{1b}[31").hasSuffix(">1</a>a</span>"))
        // Carriage returns of progress bars are dropped, the text kept.
        #expect(TerminalText.html("10%\r50%\r100%").hasSuffix(">1</a>10%50%100%</span>"))
    }
}
