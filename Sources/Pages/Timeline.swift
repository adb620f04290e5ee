/// One task on a job's timeline.
public struct TimelineBar: Sendable, Hashable {
    /// Task name.
    public var name: String
    /// State word (queued/running/succeeded/failed/skipped/cancelled).
    public var state: String
    /// Seconds since the job started; nil when the task has not started (it is then left out).
    public var start: Double?
    /// Seconds since the job started; nil while running (the bar is drawn up to `now`).
    public var end: Double?

    /// Creates a bar.
    public init(name: String, state: String, start: Double?, end: Double?) {
        self.name = name
        self.state = state
        self.start = start
        self.end = end
    }
}

/// A job's tasks as a Gantt strip, an inline SVG computed on the server: one row per started task sorted by start,
/// bars coloured and outlined by state as in ``TaskGraph``, and a time axis on top.
public enum Timeline {
    /// Space around the drawing.
    static let margin = 8
    /// Width of the label column, whose text ends at `margin + labelWidth`.
    static let labelWidth = 184
    /// Where time 0 is drawn.
    static let plotX = 208
    /// Width of the time axis.
    static let plotWidth = 560
    /// Room right of the axis for the last tick's label.
    static let rightPadding = 28
    /// Height of the tick labels above the rows.
    static let axisHeight = 22
    /// Height of one row.
    static let rowHeight = 20
    /// Height of a bar within its row.
    static let barHeight = 14

    /// A Gantt strip: one row per started task (sorted by start, then name), bars coloured by state, a time axis with
    /// a few ticks in s, min or h depending on the span. A bar with no end is running and reaches `now`. Above
    /// `maxRows` rows, the first rows are shown with a "… N more" note.
    ///
    /// `id` prefixes the element ids the SVG defines; give each SVG on a page its own.
    public static func svg(_ bars: [TimelineBar], now: Double, maxRows: Int = 200, id: String = "timeline") -> String {
        let prefix = TaskGraph.identifier(id)
        let now = now.isFinite ? max(0, now) : 0
        let started = bars.enumerated().compactMap { index, bar -> (index: Int, bar: TimelineBar, start: Double, end: Double?)? in
            guard let start = bar.start, start.isFinite else { return nil }
            let from = max(0, start)
            let end = bar.end.flatMap { $0.isFinite ? max(from, $0) : nil }
            return (index, bar, from, end)
        }.sorted { ($0.start, $0.bar.name, $0.index) < ($1.start, $1.bar.name, $1.index) }
        let shown = started.prefix(max(0, maxRows))
        let hidden = started.count - shown.count
        let span = max(0.1, started.map { $0.end ?? max(now, $0.start) }.max() ?? 0)
        let axis = Axis(span: span)

        let width = self.plotX + self.plotWidth + self.rightPadding
        let rowsTop = self.margin + self.axisHeight + 4
        let rowsBottom = rowsTop + max(1, shown.count) * self.rowHeight
        let height = rowsBottom + (hidden > 0 ? self.rowHeight : 0) + self.margin

        var summary = "\(TaskGraph.count(started.count, "task")) started"
        if !started.isEmpty { summary += " over \(self.duration(span))" }
        let states = TaskGraph.stateSummary(started.lazy.map(\.bar.state))
        if !states.isEmpty { summary += ": " + states }
        if bars.count > started.count { summary += "; \(bars.count - started.count) not started" }
        summary += "."
        var svg = TaskGraph.open(
            prefix: prefix, className: "timeline", width: width, height: height, role: "img", title: "Timeline", desc: summary)

        // The axis: tick labels on top, a baseline, and light grid lines down through the rows.
        svg += "<g fill=\"#333\" text-anchor=\"middle\">"
        for tick in axis.ticks { svg += "<text x=\"\(self.x(tick.seconds, span))\" y=\"\(self.margin + 12)\">\(tick.label)</text>" }
        svg += "</g>\n<g stroke=\"#ddd\" stroke-width=\"1\">"
        for tick in axis.ticks {
            let x = self.x(tick.seconds, span)
            svg += "<line x1=\"\(x)\" y1=\"\(rowsTop - 4)\" x2=\"\(x)\" y2=\"\(rowsBottom)\"/>"
        }
        svg +=
            "</g>\n<line x1=\"\(self.plotX)\" y1=\"\(rowsTop - 4)\" x2=\"\(self.plotX + self.plotWidth)\" y2=\"\(rowsTop - 4)\" stroke=\"#999\" stroke-width=\"1\"/>\n"

        if started.isEmpty {
            svg += "<text x=\"\(self.plotX)\" y=\"\(rowsTop + 14)\" fill=\"#333\">No task has started yet.</text>\n"
        }
        for (row, entry) in shown.enumerated() {
            let style = StateStyle(entry.bar.state)
            let top = rowsTop + row * self.rowHeight
            let end = entry.end ?? max(now, entry.start)
            let from = self.position(entry.start, span)
            let to = self.position(end, span)
            let name = TaskGraph.text(entry.bar.name, limit: TaskGraph.titleLimit)
            let state = TaskGraph.text(entry.bar.state, limit: TaskGraph.labelLimit)
            let when =
                entry.end == nil
                ? "since \(self.duration(entry.start)) (\(self.duration(end - entry.start)) so far)"
                : "\(self.duration(entry.start)) to \(self.duration(end)) (\(self.duration(end - entry.start)))"
            svg += "<g><title>\(name) — \(state), \(when)</title>"
            svg +=
                "<text x=\"\(self.margin + self.labelWidth)\" y=\"\(top + 14)\" text-anchor=\"end\" fill=\"\(style.ink)\">"
                + "\(style.glyph.map { $0 + " " } ?? "")\(TaskGraph.text(entry.bar.name, limit: TaskGraph.labelLimit))</text>"
            svg +=
                "<rect x=\"\(self.number(from))\" y=\"\(top + (self.rowHeight - self.barHeight) / 2)\" width=\"\(self.number(max(2, to - from)))\""
                + " height=\"\(self.barHeight)\" rx=\"2\"\(style.attributes)/></g>\n"
        }
        if shown.contains(where: { $0.end == nil }) {
            let x = self.x(now, span)
            svg +=
                "<line x1=\"\(x)\" y1=\"\(rowsTop - 4)\" x2=\"\(x)\" y2=\"\(rowsBottom)\" stroke=\"#004085\" stroke-width=\"1\" stroke-dasharray=\"3 3\"><title>now, \(self.duration(now))</title></line>\n"
        }
        if hidden > 0 {
            svg += "<text x=\"\(self.plotX)\" y=\"\(rowsBottom + 14)\" fill=\"#333\">… \(hidden) more</text>\n"
        }
        return svg + "</svg>"
    }

    /// The x coordinate of `seconds` on an axis of `span` seconds.
    static func position(_ seconds: Double, _ span: Double) -> Double {
        Double(self.plotX) + min(seconds, span) / span * Double(self.plotWidth)
    }

    /// The x coordinate of `seconds` on an axis of `span` seconds, formatted for an attribute.
    static func x(_ seconds: Double, _ span: Double) -> String { self.number(self.position(seconds, span)) }

    /// `value` rounded to one decimal, without a trailing ".0".
    static func number(_ value: Double) -> String {
        let tenths = self.nearest(value * 10)
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    /// `value` rounded half away from zero, without libm (whose `round` an executable may not link). Values beyond
    /// ±10¹⁵ (absurd for seconds) are clamped, so the conversion to `Int` cannot trap.
    static func nearest(_ value: Double) -> Int {
        let clamped = value.isNaN ? 0 : min(max(value, -1e15), 1e15)
        return Int(clamped + (clamped < 0 ? -0.5 : 0.5))
    }

    /// A short human duration: "3.2 s", "42 s", "4 min 5 s", "2 h 3 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "0 s" }
        if seconds < 9.95 { return "\(self.number(seconds)) s" }
        let total = self.nearest(seconds)
        if total < 60 { return "\(total) s" }
        if total < 3600 { return total % 60 == 0 ? "\(total / 60) min" : "\(total / 60) min \(total % 60) s" }
        let minutes = (total % 3600) / 60
        return minutes == 0 ? "\(total / 3600) h" : "\(total / 3600) h \(minutes) min"
    }

    /// Ticks for a span: the unit is s below two minutes, min below two hours, h above; the step is 1, 2 or 5 times
    /// a power of ten in that unit, giving three to six ticks from 0.
    struct Axis {
        /// Each tick's position in seconds and its label.
        var ticks: [(seconds: Double, label: String)] = []

        /// Ticks for `span` seconds (> 0).
        init(span: Double) {
            let (unit, suffix): (Double, String) = span < 120 ? (1, "s") : span < 7200 ? (60, "min") : (3600, "h")
            let spanInUnits = span / unit
            let raw = spanInUnits / 5
            // step = multiple × 10^exponent, kept as integers so labels are exact.
            var exponent = 0
            var power = 1.0
            while power * 10 <= raw {
                power *= 10
                exponent += 1
            }
            while power > raw {
                power /= 10
                exponent -= 1
            }
            var multiple = raw <= power ? 1 : raw <= 2 * power ? 2 : raw <= 5 * power ? 5 : 10
            if multiple == 10 {
                multiple = 1
                exponent += 1
                power *= 10
            }
            let step = Double(multiple) * power
            var i = 0
            while Double(i) * step <= spanInUnits * (1 + 1e-9) {
                let label = Self.decimal(i * multiple, exponent: exponent) + " " + suffix
                self.ticks.append((Double(i) * step * unit, label))
                i += 1
            }
        }

        /// `mantissa` × 10^`exponent` written out exactly, e.g. (25, -1) → "2.5", (3, 2) → "300".
        static func decimal(_ mantissa: Int, exponent: Int) -> String {
            if exponent >= 0 { return String(mantissa) + String(repeating: "0", count: mantissa == 0 ? 0 : exponent) }
            var digits = String(mantissa)
            let places = -exponent
            if digits.count <= places { digits = String(repeating: "0", count: places - digits.count + 1) + digits }
            var whole = String(digits.dropLast(places))
            var fraction = String(digits.suffix(places))
            while fraction.hasSuffix("0") { fraction.removeLast() }
            if whole.isEmpty { whole = "0" }
            return fraction.isEmpty ? whole : whole + "." + fraction
        }
    }
}
