import Pages
import Testing

@Suite struct TimelineTests {
    /// How often `needle` occurs in `text`.
    private func occurrences(of needle: String, in text: String) -> Int { text.ranges(of: needle).count }

    /// Where `needle` first occurs in `text`, as a character offset (nil when absent).
    private func offset(of needle: String, in text: String) -> Int? {
        text.firstRange(of: needle).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
    }

    /// A finished bar.
    private func bar(_ name: String, _ start: Double?, _ end: Double?, state: String = "succeeded") -> TimelineBar {
        TimelineBar(name: name, state: state, start: start, end: end)
    }

    @Test("Rows are sorted by start, whatever the input order")
    func sortedByStart() throws {
        let svg = Timeline.svg([self.bar("third", 20, 30), self.bar("first", 0, 5), self.bar("second", 10, 12)], now: 30)
        let first = try #require(self.offset(of: "<title>first", in: svg))
        let second = try #require(self.offset(of: "<title>second", in: svg))
        let third = try #require(self.offset(of: "<title>third", in: svg))
        #expect(first < second && second < third)
        #expect(svg.contains("<title>first — succeeded, 0 s to 5 s (5 s)</title>"))
    }

    @Test("A running bar extends to now, and a now line is drawn")
    func runningToNow() {
        // The axis spans 0…100 s over 560 units from x = 208, rows start at y = 34: a bar to 50 s is 280 wide, the running
        // one reaches 100 s.
        let svg = Timeline.svg([self.bar("done", 0, 50), self.bar("busy", 20, nil, state: "running")], now: 100)
        #expect(svg.contains("<rect x=\"208\" y=\"37\" width=\"280\""))
        #expect(
            svg.contains(
                "<rect x=\"320\" y=\"57\" width=\"448\" height=\"14\" rx=\"2\" fill=\"#cce5ff\" stroke=\"#004085\" stroke-width=\"3\"/>"))
        #expect(svg.contains("<title>busy — running, since 20 s (1 min 20 s so far)</title>"))
        #expect(svg.contains("stroke-dasharray=\"3 3\"><title>now, 1 min 40 s</title>"))
        #expect(!Timeline.svg([self.bar("done", 0, 50)], now: 100).contains("<title>now"))
    }

    @Test("Tasks that have not started are left out and counted")
    func unstartedOmitted() {
        let svg = Timeline.svg([self.bar("ran", 0, 3), self.bar("waiting", nil, nil, state: "queued"), self.bar("nan", .nan, nil)], now: 5)
        #expect(!svg.contains("waiting"))
        #expect(!svg.contains(">nan<"))
        #expect(svg.contains("<desc id=\"timeline-desc\">1 task started over 3 s: 1 succeeded; 2 not started.</desc>"))
        #expect(self.occurrences(of: "<rect", in: svg) == 1)
        let none = Timeline.svg([self.bar("waiting", nil, nil, state: "queued")], now: 0)
        #expect(none.contains("No task has started yet."))
        #expect(!none.contains("<rect"))
    }

    @Test("The axis picks s, min or h by span, with a few round ticks")
    func axisUnits() {
        let seconds = Timeline.svg([self.bar("a", 0, 45)], now: 45)
        for label in ["0 s", "10 s", "20 s", "30 s", "40 s"] { #expect(seconds.contains(">\(label)</text>")) }
        #expect(!seconds.contains(" min<"))
        let minutes = Timeline.svg([self.bar("a", 0, 20 * 60)], now: 0)
        for label in ["0 min", "5 min", "10 min", "15 min", "20 min"] { #expect(minutes.contains(">\(label)</text>")) }
        let hours = Timeline.svg([self.bar("a", 0, 5 * 3600)], now: 0)
        for label in ["0 h", "1 h", "2 h", "3 h", "4 h", "5 h"] { #expect(hours.contains(">\(label)</text>")) }
        let short = Timeline.svg([self.bar("a", 0, 0.5)], now: 0)
        for label in ["0 s", "0.1 s", "0.2 s", "0.5 s"] { #expect(short.contains(">\(label)</text>")) }
        #expect(!short.contains("0.30000"))
        let tickCounts = [seconds, minutes, hours, short].map { self.occurrences(of: "<line x1", in: $0) }
        #expect(tickCounts.allSatisfy { (3...8).contains($0) })
    }

    @Test("Above maxRows, the first rows are shown with a note of how many more")
    func maxRowsNote() {
        let bars = (0..<250).map { self.bar("t\($0)", Double($0), Double($0) + 10) }
        let svg = Timeline.svg(bars, now: 300)
        #expect(self.occurrences(of: "<rect", in: svg) == 200)
        #expect(svg.contains(">… 50 more</text>"))
        #expect(svg.contains("<title>t199 "))
        #expect(!svg.contains("<title>t200 "))
        #expect(svg.contains("250 tasks started"))
        #expect(!Timeline.svg(Array(bars.prefix(3)), now: 30).contains("more</text>"))
        #expect(Timeline.svg(bars, now: 300, maxRows: 0).contains(">… 250 more</text>"))
    }

    @Test("Absurd times neither trap nor draw outside the plot")
    func absurdTimes() {
        let bars = [
            self.bar("huge", 1e300, nil, state: "running"), self.bar("negative", -5, 2), self.bar("backwards", 10, 3),
            self.bar("endless", 1, .infinity),
        ]
        for now in [1e308, -1, .infinity, .nan] {
            let svg = Timeline.svg(bars, now: now)
            #expect(svg.hasSuffix("</svg>"))
            #expect(!svg.contains("nan") && !svg.contains("inf"))
        }
        let svg = Timeline.svg([self.bar("negative", -5, 2), self.bar("backwards", 10, 3)], now: 10)
        #expect(svg.contains("<title>negative — succeeded, 0 s to 2 s (2 s)</title>"))
        #expect(svg.contains("<title>backwards — succeeded, 10 s to 10 s (0 s)</title>"))
    }

    @Test("Hostile names and states come out inert")
    func escaping() {
        let svg = Timeline.svg(
            [
                self.bar("<script>alert(1)</script>", 0, 1, state: "\"><img src=x onerror=alert(1)>"),
                self.bar("]]><script>", 1, 2), self.bar("a\u{202E}b\u{2066}c", 2, 3), self.bar(String(repeating: "y", count: 5_000), 3, 4),
            ], now: 4, id: "x\" onload=\"alert(1)")
        #expect(!svg.contains("<script>"))
        #expect(!svg.contains("<img"))
        #expect(!svg.contains("]]>"))
        #expect(!svg.contains("\u{202E}"))
        #expect(!svg.contains("\u{2066}"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; — &quot;&gt;&lt;img src=x onerror=al…"))
        #expect(svg.contains("a\u{FFFD}b\u{FFFD}c"))
        #expect(svg.contains(String(repeating: "y", count: 23) + "…</text>"))
        #expect(svg.utf8.count < 5_000)
    }

    @Test("The strip is accessible, scalable, styled without CSS, and deterministic")
    func accessibility() throws {
        let bars = [self.bar("a", 0, 3), self.bar("b", 1, nil, state: "running"), self.bar("c", 1, 2, state: "failed")]
        let svg = Timeline.svg(bars, now: 4)
        #expect(svg.hasPrefix("<svg "))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.contains("role=\"img\" aria-labelledby=\"timeline-title timeline-desc\""))
        #expect(svg.contains("<title id=\"timeline-title\">Timeline</title>"))
        #expect(svg.contains("3 tasks started over 4 s: 1 succeeded, 1 failed, 1 running."))
        // Natural size: one viewBox unit a CSS pixel, so text is the same size at every width.
        let box = try #require(svg.range(of: "viewBox=\"0 0 ").map { svg[$0.upperBound...].prefix { $0 != "\"" } })
        let parts = box.split(separator: " ")
        #expect(svg.contains("width=\"\(parts[0])\" height=\"\(parts[1])\""))
        #expect(svg.contains("✗ c</text>"))
        #expect(!svg.contains("style"))
        #expect(!svg.contains("<script>"))
        #expect(svg == Timeline.svg(bars, now: 4))
    }
}
