/// Task log text as HTML: numbered lines with anchors, and terminal colours (SGR escape
/// sequences) as CSS classes.
///
/// Every other terminal sequence (cursor moves, window titles, hyperlinks, private modes) is
/// dropped, as `Pages.neutralizeTerminal` drops them, and every character is escaped: a log can
/// colour its own text with the page's fixed palette, never style, script or rewrite the page.
/// No inline `style` is ever written (the CSP allows none): 256-colour and RGB colours outside
/// the 16 named ones are shown in the default colour.
public enum TerminalText {
    /// The SGR state of the text being written.
    struct Style: Equatable {
        var bold = false
        var italic = false
        var underline = false
        /// 0-15, or nil for the default colour.
        var foreground: Int? = nil
        var background: Int? = nil

        var classes: String {
            var names: [String] = []
            if self.bold { names.append("t-b") }
            if self.italic { names.append("t-i") }
            if self.underline { names.append("t-u") }
            if let f = self.foreground { names.append("t-f\(f)") }
            if let g = self.background { names.append("t-g\(g)") }
            return names.joined(separator: " ")
        }

        /// Applies one SGR parameter list (`1;31`, `0`, `38;5;9`; empty means reset).
        mutating func apply(_ parameters: [Int]) {
            var list = parameters.isEmpty ? [0] : parameters
            while !list.isEmpty {
                let p = list.removeFirst()
                switch p {
                case 0: self = Style()
                case 1: self.bold = true
                case 3: self.italic = true
                case 4: self.underline = true
                case 22: self.bold = false
                case 23: self.italic = false
                case 24: self.underline = false
                case 30...37: self.foreground = p - 30
                case 90...97: self.foreground = p - 90 + 8
                case 39: self.foreground = nil
                case 40...47: self.background = p - 40
                case 100...107: self.background = p - 100 + 8
                case 49: self.background = nil
                case 38, 48:
                    // 38;5;n / 48;5;n: one of the 16 named colours is kept, others are the
                    // default; 38;2;r;g;b: the default (no inline colours).
                    guard let mode = list.first else { return }
                    list.removeFirst()
                    if mode == 5, let n = list.first {
                        list.removeFirst()
                        let colour: Int? = (0...15).contains(n) ? n : nil
                        if p == 38 { self.foreground = colour } else { self.background = colour }
                    } else if mode == 2 {
                        list.removeFirst(min(3, list.count))
                        if p == 38 { self.foreground = nil } else { self.background = nil }
                    }
                default: break
                }
            }
        }
    }

    /// `text` as HTML lines for a `<pre>`: each line `<span class="line" id="L<n>">` with a link
    /// to itself, numbered from `firstLine`. Styles carry over from line to line, but every
    /// line's spans are closed within it, so any line can be linked to and read alone.
    /// With `numbered` false (an excerpt beside others on one page), lines have neither ids nor
    /// numbers.
    public static func html(_ text: String, firstLine: Int = 1, numbered: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + text.utf8.count / 4)
        var style = Style()
        var classes = ""  // style.classes, kept up to date when an SGR sequence changes it
        var number = firstLine
        var lineOpen = false
        // The run of text written in one style, escaped and wrapped when it ends.
        var run = String.UnicodeScalarView()
        var runClasses = ""

        func flushRun() {
            guard !run.isEmpty else { return }
            let escaped = HTML.escape(String(run))
            out += runClasses.isEmpty ? escaped : "<span class=\"\(runClasses)\">\(escaped)</span>"
            run = String.UnicodeScalarView()
        }
        func openLine() {
            out +=
                numbered
                ? "<span class=\"line\" id=\"L\(number)\"><a class=\"ln\" href=\"#L\(number)\" aria-hidden=\"true\" tabindex=\"-1\">\(number)</a>"
                : "<span class=\"line\">"
            lineOpen = true
        }
        func write(_ scalar: Unicode.Scalar) {
            if !lineOpen { openLine() }
            if classes != runClasses {
                flushRun()
                runClasses = classes
            }
            run.append(scalar)
        }
        func endLine() {
            if !lineOpen { openLine() }
            flushRun()
            out += "</span>\n"
            lineOpen = false
            number += 1
        }
        func sgr(_ scalars: inout String.UnicodeScalarView.Iterator) {
            let before = style
            Self.readCSI(&scalars, into: &style)
            if style != before { classes = style.classes }
        }

        var scalars = text.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            switch c {
            case "\n": endLine()
            case "\u{9B}": sgr(&scalars)
            case "\u{1B}":
                guard let kind = scalars.next() else { break }
                switch kind {
                case "[": sgr(&scalars)
                case "]", "P", "_", "^", "X":
                    // String sequences end at BEL or ESC \.
                    var previous: Unicode.Scalar = " "
                    while let s = scalars.next(), s != "\u{07}", !(previous == "\u{1B}" && s == "\\") { previous = s }
                case "\u{20}"..."\u{2F}":
                    // ESC, intermediate bytes, one final byte (`ESC ( B` selects a character set): dropped.
                    while let s = scalars.next(), (0x20...0x2F).contains(s.value) {}
                default: break  // a two-character escape: dropped
                }
            case "\r":
                break  // progress bars redraw with CR: keep the text, drop the return
            default: write(c)
            }
        }
        if lineOpen {
            flushRun()
            out += "</span>"
        }
        return out
    }

    /// Reads one CSI sequence after its introducer; applies it if it is SGR (`m`).
    private static func readCSI(_ scalars: inout String.UnicodeScalarView.Iterator, into style: inout Style) {
        var parameters = ""
        var isPrivate = false
        while let s = scalars.next() {
            switch s.value {
            case 0x30...0x3F:
                if s == "<" || s == "=" || s == ">" || s == "?" { isPrivate = true }
                parameters.unicodeScalars.append(s)
            case 0x20...0x2F:
                isPrivate = true  // intermediate bytes: not a plain SGR
            case 0x40...0x7E:
                guard s == "m", !isPrivate, parameters.utf8.count <= 64 else { return }
                let values = parameters.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
                style.apply(parameters.isEmpty ? [] : values)
                return
            default:
                return  // not a CSI sequence after all: dropped
            }
        }
    }
}
