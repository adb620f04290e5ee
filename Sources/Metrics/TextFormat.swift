/// Escaping and number formatting of the Prometheus text format.
enum TextFormat {
    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ value: String) -> String { Self.escape(value, quotes: true) }

    /// A HELP text: backslash and line feed escaped (a double quote stays).
    static func escapeHelp(_ text: String) -> String { Self.escape(text, quotes: false) }

    private static func escape(_ text: String, quotes: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One sample line per series, in byte order of the label values.
    static func writeSeries(_ name: String, labels: [String], _ series: [SeriesKey: Double], into text: inout String) {
        for key in series.keys.sorted(by: SeriesKey.precedes) {
            text += "\(name)\(Self.labels(labels, key.values)) \(Self.value(series[key]!))\n"
        }
    }

    /// `{a="x",b="y"}` for the names and values (empty for no labels), plus `extra` pairs.
    static func labels(_ names: [String], _ values: [String], extra: [(String, String)] = []) -> String {
        let pairs = zip(names, values).map { ($0, $1) } + extra
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// A sample value: whole numbers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func value(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
