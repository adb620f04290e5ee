import HTTP

/// The one escaping primitive: every value that reaches a page goes through it.
public enum HTML {
    /// Escapes `& < > " '` so the text is safe in element content and quoted attribute values.
    /// Control characters other than tab, newline and carriage return are shown as U+FFFD, so
    /// terminal escapes in logs cannot reach the browser.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value) {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Percent-encodes one path segment (a pipeline or task name) for use inside an href.
    public static func pathSegment(_ text: String) -> String { FormEncoder.encode(text) }
}
