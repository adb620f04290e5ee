/// One attempt of a task on a job's timeline, in seconds since the job started.
public struct TimelineAttempt: Sendable, Hashable {
    /// Its number, from 1.
    public var number: Int
    /// How it ended (failed/succeeded/cancelled/…), or `running`.
    public var state: String
    /// When it started.
    public var start: Double
    /// When it ended; nil while it runs (it is then drawn up to `now`).
    public var end: Double?
    /// Why it ended, for people ("exited with status 1"), or empty.
    public var note: String

    /// Creates an attempt.
    public init(number: Int, state: String, start: Double, end: Double?, note: String = "") {
        self.number = number
        self.state = state
        self.start = start
        self.end = end
        self.note = note
    }
}

/// One task on a job's timeline: every attempt it made, and the wait for its next one.
public struct TimelineBar: Sendable, Hashable {
    /// Task name.
    public var name: String
    /// The task's state now (queued/running/succeeded/failed/skipped/cancelled).
    public var state: String
    /// Its attempts, oldest first; none when it has not started (it is then left out).
    public var attempts: [TimelineAttempt]
    /// For a task waiting to be retried: when its next attempt may start (the wait after its last
    /// attempt is drawn up to there).
    public var retryAt: Double?
    /// How many attempts its policy allows (0: not shown).
    public var maxAttempts: Int

    /// Creates a bar of attempts.
    public init(name: String, state: String, attempts: [TimelineAttempt], retryAt: Double? = nil, maxAttempts: Int = 0) {
        self.name = name
        self.state = state
        self.attempts = attempts
        self.retryAt = retryAt
        self.maxAttempts = maxAttempts
    }

    /// Creates a bar of one attempt (none when `start` is nil) that ended in `state`, or runs while `end` is nil.
    public init(name: String, state: String, start: Double?, end: Double?) {
        self.init(name: name, state: state, attempts: start.map { [TimelineAttempt(number: 1, state: state, start: $0, end: end)] } ?? [])
    }
}

/// A job's tasks as a Gantt strip, an inline SVG computed on the server: one row per started task sorted by start,
/// each attempt a bar coloured and outlined by its outcome as in ``TaskGraph``, the waits between attempts (and
/// before the next one) drawn as dashed lines rather than bars, and a time axis on top from the job's start.
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
    /// Colour of waits (between attempts, and for the next one).
    static let waitInk = "#6c757d"

    /// A started row, times clamped to be finite, non-negative and in order.
    struct Row {
        var index: Int
        var bar: TimelineBar
        var attempts: [TimelineAttempt]
        var retryAt: Double?
        var start: Double { self.attempts[0].start }
    }

    /// The rows of `bars` that started, with sane times, sorted by first start, then name.
    static func rows(_ bars: [TimelineBar]) -> [Row] {
        bars.enumerated().compactMap { index, bar -> Row? in
            var floor = 0.0
            let attempts = bar.attempts.compactMap { attempt -> TimelineAttempt? in
                guard attempt.start.isFinite else { return nil }
                var clean = attempt
                clean.start = max(floor, attempt.start)
                clean.end = attempt.end.flatMap { $0.isFinite ? max(clean.start, $0) : nil }
                floor = clean.end ?? clean.start
                return clean
            }
            guard !attempts.isEmpty else { return nil }
            let retryAt = bar.retryAt.flatMap { $0.isFinite && attempts.last?.end != nil ? max(floor, $0) : nil }
            return Row(index: index, bar: bar, attempts: attempts, retryAt: retryAt)
        }.sorted { ($0.start, $0.bar.name, $0.index) < ($1.start, $1.bar.name, $1.index) }
    }

    /// A Gantt strip: one row per started task (sorted by start, then name), each attempt a bar coloured by its
    /// outcome, waits between attempts as dashed lines, a time axis with a few ticks in s, min or h depending on the
    /// span. An attempt with no end is running and reaches `now`. Above `maxRows` rows, the first rows are shown
    /// with a "… N more" note.
    ///
    /// `id` prefixes the element ids the SVG defines; give each SVG on a page its own.
    public static func svg(_ bars: [TimelineBar], now: Double, maxRows: Int = 200, id: String = "timeline") -> String {
        let prefix = TaskGraph.identifier(id)
        let now = now.isFinite ? max(0, now) : 0
        let started = self.rows(bars)
        let shown = started.prefix(max(0, maxRows))
        let hidden = started.count - shown.count
        let span = max(
            0.1,
            started.map { row in max(row.attempts.last.map { $0.end ?? max(now, $0.start) } ?? 0, row.retryAt ?? 0) }.max() ?? 0)
        let axis = Axis(span: span)

        let width = self.plotX + self.plotWidth + self.rightPadding
        let rowsTop = self.margin + self.axisHeight + 4
        let rowsBottom = rowsTop + max(1, shown.count) * self.rowHeight
        let height = rowsBottom + (hidden > 0 ? self.rowHeight : 0) + self.margin

        var summary = "\(TaskGraph.count(started.count, "task")) started"
        if !started.isEmpty { summary += " over \(self.duration(span))" }
        let states = TaskGraph.stateSummary(started.lazy.map(\.bar.state))
        if !states.isEmpty { summary += ": " + states }
        let retried = started.reduce(0) { $0 + $1.attempts.count - 1 }
        if retried > 0 { summary += "; \(TaskGraph.count(retried, "earlier attempt")) drawn before the latest" }
        if bars.count > started.count { summary += "; \(bars.count - started.count) not started" }
        summary += "."
        var svg = TaskGraph.open(
            prefix: prefix, className: "timeline", width: width, height: height, role: "img", title: "Timeline", desc: summary)
        svg += self.axis(axis, span: span, top: rowsTop, bottom: rowsBottom)

        if started.isEmpty {
            svg += "<text x=\"\(self.plotX)\" y=\"\(rowsTop + 14)\" fill=\"#333\">No task has started yet.</text>\n"
        }
        for (row, entry) in shown.enumerated() {
            svg += self.row(entry, top: rowsTop + row * self.rowHeight, now: now, span: span)
        }
        if shown.contains(where: { $0.attempts.last?.end == nil }) {
            svg += self.nowLine(now, span: span, top: rowsTop, bottom: rowsBottom)
        }
        if hidden > 0 {
            svg += "<text x=\"\(self.plotX)\" y=\"\(rowsBottom + 14)\" fill=\"#333\">… \(hidden) more</text>\n"
        }
        return svg + "</svg>"
    }

    /// The tick labels on top, a baseline, and light grid lines down through the rows.
    static func axis(_ axis: Axis, span: Double, top rowsTop: Int, bottom rowsBottom: Int) -> String {
        var svg = "<g fill=\"#333\" text-anchor=\"middle\">"
        for tick in axis.ticks { svg += "<text x=\"\(self.x(tick.seconds, span))\" y=\"\(self.margin + 12)\">\(tick.label)</text>" }
        svg += "</g>\n<g stroke=\"#ddd\" stroke-width=\"1\">"
        for tick in axis.ticks {
            let x = self.x(tick.seconds, span)
            svg += "<line x1=\"\(x)\" y1=\"\(rowsTop - 4)\" x2=\"\(x)\" y2=\"\(rowsBottom)\"/>"
        }
        return svg
            + "</g>\n<line x1=\"\(self.plotX)\" y1=\"\(rowsTop - 4)\" x2=\"\(self.plotX + self.plotWidth)\" y2=\"\(rowsTop - 4)\" stroke=\"#999\" stroke-width=\"1\"/>\n"
    }

    /// The dashed line at `now`, for strips with something still running.
    static func nowLine(_ now: Double, span: Double, top rowsTop: Int, bottom rowsBottom: Int) -> String {
        let x = self.x(now, span)
        return
            "<line x1=\"\(x)\" y1=\"\(rowsTop - 4)\" x2=\"\(x)\" y2=\"\(rowsBottom)\" stroke=\"#004085\" stroke-width=\"1\" stroke-dasharray=\"3 3\"><title>now, \(self.duration(now))</title></line>\n"
    }

    /// One task's row: its label, a bar per attempt, a dashed line per wait.
    static func row(_ entry: Row, top: Int, now: Double, span: Double) -> String {
        let name = TaskGraph.text(entry.bar.name, limit: TaskGraph.titleLimit)
        let style = StateStyle(entry.bar.state)
        let label =
            "<text x=\"\(self.margin + self.labelWidth)\" y=\"\(top + 14)\" text-anchor=\"end\" fill=\"\(style.ink)\">"
            + "\(style.glyph.map { $0 + " " } ?? "")\(TaskGraph.text(entry.bar.name, limit: TaskGraph.labelLimit))</text>"
        let barTop = top + (self.rowHeight - self.barHeight) / 2
        let middle = top + self.rowHeight / 2
        if entry.attempts.count == 1 && entry.retryAt == nil {
            // One attempt: the row is the attempt (its tooltip names the task's state).
            let attempt = entry.attempts[0]
            let when = self.when(attempt, now: now)
            let state = TaskGraph.text(entry.bar.state, limit: TaskGraph.labelLimit)
            return "<g><title>\(name) — \(state), \(when)</title>" + label + self.rect(attempt, top: barTop, now: now, span: span)
                + "</g>\n"
        }
        let count = entry.attempts.count
        let of = entry.bar.maxAttempts >= count ? " of \(entry.bar.maxAttempts)" : ""
        var svg =
            "<g><title>\(name) — \(TaskGraph.text(entry.bar.state, limit: TaskGraph.labelLimit)), \(TaskGraph.count(count, "attempt"))"
            + (entry.retryAt != nil ? " so far" : "") + "</title>" + label + "</g>"
        var previousEnd: Double? = nil
        for attempt in entry.attempts {
            if let previousEnd, attempt.start > previousEnd {
                svg += self.wait(
                    from: previousEnd, to: attempt.start, y: middle, span: span,
                    title: "\(name) — waited \(self.duration(attempt.start - previousEnd)) before attempt \(attempt.number)")
            }
            let outcome = TaskGraph.text(attempt.state, limit: TaskGraph.labelLimit)
            let note = attempt.note.isEmpty ? "" : " (\(TaskGraph.text(attempt.note, limit: TaskGraph.titleLimit)))"
            svg +=
                "<g><title>\(name) — attempt \(attempt.number)\(of): \(outcome)\(note), \(self.when(attempt, now: now))</title>"
                + self.rect(attempt, top: barTop, now: now, span: span) + "</g>"
            previousEnd = attempt.end
        }
        if let retryAt = entry.retryAt, let last = entry.attempts.last?.end {
            let next = (entry.attempts.last?.number ?? count) + 1
            let remaining = retryAt > now ? ", in \(self.duration(retryAt - now))" : ""
            svg += self.wait(
                from: last, to: max(retryAt, last), y: middle, span: span,
                title:
                    "\(name) — waiting to retry: attempt \(next)\(entry.bar.maxAttempts >= next ? " of \(entry.bar.maxAttempts)" : "") at \(self.duration(retryAt))\(remaining)"
            )
            // The end of the wait: where the next attempt is due.
            svg +=
                "<line x1=\"\(self.x(retryAt, span))\" y1=\"\(barTop)\" x2=\"\(self.x(retryAt, span))\" y2=\"\(barTop + self.barHeight)\" stroke=\"\(self.waitInk)\" stroke-width=\"1.5\"/>"
        }
        return svg + "\n"
    }

    /// An attempt's bar.
    static func rect(_ attempt: TimelineAttempt, top: Int, now: Double, span: Double) -> String {
        let end = attempt.end ?? max(now, attempt.start)
        let from = self.position(attempt.start, span)
        let to = self.position(end, span)
        return
            "<rect x=\"\(self.number(from))\" y=\"\(top)\" width=\"\(self.number(max(2, to - from)))\" height=\"\(self.barHeight)\" rx=\"2\"\(StateStyle(attempt.state).attributes)/>"
    }

    /// A wait: a dashed line through the middle of the row, with a tooltip.
    static func wait(from: Double, to: Double, y: Int, span: Double, title: String) -> String {
        "<g><title>\(title)</title><line x1=\"\(self.x(from, span))\" y1=\"\(y)\" x2=\"\(self.x(to, span))\" y2=\"\(y)\""
            + " stroke=\"\(self.waitInk)\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/></g>"
    }

    /// "0 s to 5 s (5 s)", or "since 20 s (1 min so far)" for a running attempt.
    static func when(_ attempt: TimelineAttempt, now: Double) -> String {
        guard let end = attempt.end else {
            let to = max(now, attempt.start)
            return "since \(self.duration(attempt.start)) (\(self.duration(to - attempt.start)) so far)"
        }
        return "\(self.duration(attempt.start)) to \(self.duration(end)) (\(self.duration(end - attempt.start)))"
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
