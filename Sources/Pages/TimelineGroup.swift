/// A run of a large job's tasks drawn as one row of its timeline: a layer of its graph, or a run of
/// consecutive layers, in seconds since the job started.
public struct TimelineGroup: Sendable, Hashable {
    /// What the row is ("Layer 3", "Layers 3–4").
    public var label: String
    /// Where the row's tasks are listed one by one (a same-origin path), or nil.
    public var href: String?
    /// How many tasks it holds.
    public var tasks: Int
    /// How many of them are in each state.
    public var counts: [String: Int]
    /// When its first attempt started (nil: none has).
    public var start: Double?
    /// When its last attempt ended, once none runs or waits to be retried.
    public var end: Double?
    /// Attempts beyond each task's first.
    public var retries: Int

    /// Creates a group.
    public init(label: String, href: String?, tasks: Int, counts: [String: Int], start: Double?, end: Double?, retries: Int) {
        self.label = label
        self.href = href
        self.tasks = tasks
        self.counts = counts
        self.start = start
        self.end = end
        self.retries = retries
    }
}

extension Timeline {
    /// A large job's timeline grouped like its collapsed graph: one row per group, a bar from its first
    /// start to its last end (to `now` while any of its tasks is unfinished) outlined by its worst state,
    /// with a strip of its counts per state; each label links to the group's tasks, listed one by one
    /// (the row "expands" there). Groups that never started are listed without a bar.
    ///
    /// `id` prefixes the element ids the SVG defines; give each SVG on a page its own.
    public static func grouped(_ groups: [TimelineGroup], now: Double, id: String = "timeline") -> String {
        let prefix = TaskGraph.identifier(id)
        let now = now.isFinite ? max(0, now) : 0
        func clean(_ group: TimelineGroup) -> (start: Double, end: Double?)? {
            guard let start = group.start, start.isFinite else { return nil }
            let from = max(0, start)
            return (from, group.end.flatMap { $0.isFinite ? max(from, $0) : nil })
        }
        let spans = groups.map(clean)
        let span = max(0.1, spans.compactMap { $0.map { $0.end ?? max(now, $0.start) } }.max() ?? 0)
        let axis = Axis(span: span)
        let width = self.plotX + self.plotWidth + self.rightPadding
        let rowsTop = self.margin + self.axisHeight + 4
        let rowsBottom = rowsTop + max(1, groups.count) * self.rowHeight
        let height = rowsBottom + self.margin

        let tasks = groups.reduce(0) { $0 + $1.tasks }
        var counts: [String: Int] = [:]
        for group in groups { counts.merge(group.counts, uniquingKeysWith: +) }
        var summary = "\(TaskGraph.count(tasks, "task")) in \(TaskGraph.count(groups.count, "row")), one per layer or run of layers"
        let states = TaskGraph.stateSummary(counts)
        if !states.isEmpty { summary += ": " + states }
        let retries = groups.reduce(0) { $0 + $1.retries }
        if retries > 0 { summary += "; " + self.retries(retries) }
        summary += ". Too many tasks to draw one by one; each row links to its tasks."
        var svg = TaskGraph.open(
            prefix: prefix, className: "timeline", width: width, height: height, role: "img", title: "Timeline (by layer)", desc: summary)
        svg += self.axis(axis, span: span, top: rowsTop, bottom: rowsBottom)
        var anyRunning = false
        for (row, group) in groups.enumerated() {
            let top = rowsTop + row * self.rowHeight
            let frame =
                group.counts["failed", default: 0] > 0
                ? StateStyle("failed") : group.counts["running", default: 0] > 0 ? StateStyle("running") : StateStyle(nil)
            let label = TaskGraph.text(group.label, limit: TaskGraph.labelLimit)
            var title = "\(label) · \(TaskGraph.count(group.tasks, "task"))"
            let rowStates = TaskGraph.stateSummary(group.counts)
            if !rowStates.isEmpty { title += " · " + rowStates }
            var bar = ""
            if let (start, end) = spans[row] {
                let to = end ?? max(now, start)
                anyRunning = anyRunning || end == nil
                title +=
                    end == nil
                    ? " · since \(self.duration(start)) (\(self.duration(to - start)) so far)"
                    : " · \(self.duration(start)) to \(self.duration(to)) (\(self.duration(to - start)))"
                if group.retries > 0 { title += " · " + self.retries(group.retries) }
                let from = self.position(start, span)
                let length = max(2, self.position(to, span) - from)
                let barTop = top + (self.rowHeight - self.barHeight) / 2
                bar =
                    "<rect x=\"\(self.number(from))\" y=\"\(barTop)\" width=\"\(self.number(length))\" height=\"\(self.barHeight)\" rx=\"2\""
                    + " fill=\"#fff\" stroke=\"\(frame.stroke)\" stroke-width=\"\(frame.strokeWidth)\"/>"
                // The strip of counts per state along the bar's foot, as in the collapsed graph.
                var done = 0
                for (state, count) in TaskGraph.sortedCounts(group.counts) where group.tasks > 0 {
                    let a = length * Double(done) / Double(group.tasks)
                    done += count
                    let b = length * Double(done) / Double(group.tasks)
                    guard b - a >= 0.1 else { continue }
                    bar +=
                        "<rect x=\"\(self.number(from + a))\" y=\"\(barTop + self.barHeight - 5)\" width=\"\(self.number(b - a))\" height=\"4\" fill=\"\(StateStyle(state).stroke)\"/>"
                }
            } else {
                title += " · not started"
            }
            let href = TaskGraph.safeHref(group.href)
            // A linked label looks like a link: underlined (a presentation attribute, so the CSP allows it).
            let text =
                "<text x=\"\(self.margin + self.labelWidth)\" y=\"\(top + 14)\" text-anchor=\"end\" fill=\"\(frame.ink)\""
                + (href == nil ? "" : " text-decoration=\"underline\"") + ">\(label) · \(group.tasks)</text>"
            let linked = href.map { "<a href=\"\(HTML.escape($0))\">\(text)</a>" } ?? text
            svg += "<g><title>\(title)</title>\(linked)\(bar)</g>\n"
        }
        if anyRunning { svg += self.nowLine(now, span: span, top: rowsTop, bottom: rowsBottom) }
        return svg + "</svg>"
    }

    /// "1 retry", "12 retries".
    static func retries(_ count: Int) -> String { count == 1 ? "1 retry" : "\(count) retries" }
}
