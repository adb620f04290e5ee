import Pages
import Testing

/// Attempts, waits and retries on the timeline, and the grouped timeline of a large job.
///
/// Positions: the axis starts at x = 208 and is 560 wide, so a time t on an axis of span S is drawn at
/// 208 + t / S × 560; rows start at y = 34 and are 20 high, and a bar is 14 high, 3 below its row's top.
@Suite struct TimelineAttemptsTests {
    /// How often `needle` occurs in `text`.
    private func occurrences(of needle: String, in text: String) -> Int { text.ranges(of: needle).count }

    /// Where `needle` first occurs in `text`, as a character offset (nil when absent).
    private func offset(of needle: String, in text: String) -> Int? {
        text.firstRange(of: needle).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
    }

    /// An attempt.
    private func attempt(
        _ number: Int, _ state: String, _ start: Double, _ end: Double?, note: String = ""
    ) -> TimelineAttempt {
        TimelineAttempt(number: number, state: state, start: start, end: end, note: note)
    }

    /// A finished one-attempt bar.
    private func bar(_ name: String, _ start: Double?, _ end: Double?, state: String = "succeeded") -> TimelineBar {
        TimelineBar(name: name, state: state, start: start, end: end)
    }

    /// The attributes of a bar in `state`, as ``TaskGraph`` draws it.
    private func look(_ state: String) -> String {
        switch state {
        case "succeeded": " fill=\"#d4edda\" stroke=\"#155724\" stroke-width=\"1\""
        case "failed": " fill=\"#f8d7da\" stroke=\"#721c24\" stroke-width=\"2\""
        case "running": " fill=\"#cce5ff\" stroke=\"#004085\" stroke-width=\"3\""
        default: " fill=\"#fff\" stroke=\"#6c757d\" stroke-width=\"1\""
        }
    }

    /// An attempt's bar.
    private func rect(x: String, y: Int, width: String, _ state: String) -> String {
        "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(width)\" height=\"14\" rx=\"2\"\(self.look(state))/>"
    }

    /// A wait, as a dashed line through the middle of a row, with its tooltip.
    private func wait(_ title: String, from x1: String, to x2: String, y: Int) -> String {
        "<g><title>\(title)</title><line x1=\"\(x1)\" y1=\"\(y)\" x2=\"\(x2)\" y2=\"\(y)\" stroke=\"#6c757d\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/></g>"
    }

    // MARK: - Attempts

    @Test("Three attempts: a bar each, a dashed wait between each pair, rows still sorted by first start")
    func threeAttempts() throws {
        // Span 40 s: x = 208 + 14 t. "alpha" (first attempt at 0 s) is the first row (y 34, bars at 37, waits at 44),
        // "beta" (at 2 s) the second (bars at 57), though alpha's last attempt starts after beta.
        let alpha = TimelineBar(
            name: "alpha", state: "succeeded",
            attempts: [
                self.attempt(1, "failed", 0, 5, note: "exited with status 1"), self.attempt(2, "failed", 8, 12),
                self.attempt(3, "succeeded", 20, 30),
            ], maxAttempts: 3)
        let bars = [self.bar("beta", 2, 40), alpha]
        let svg = Timeline.svg(bars, now: 40)

        #expect(self.occurrences(of: "<rect", in: svg) == 4)
        #expect(svg.contains(self.rect(x: "208", y: 37, width: "70", "failed")))
        #expect(svg.contains(self.rect(x: "320", y: 37, width: "56", "failed")))
        #expect(svg.contains(self.rect(x: "488", y: 37, width: "140", "succeeded")))
        #expect(svg.contains(self.rect(x: "236", y: 57, width: "532", "succeeded")))

        #expect(self.occurrences(of: "stroke-dasharray=\"4 3\"", in: svg) == 2)
        #expect(svg.contains(self.wait("alpha — waited 3 s before attempt 2", from: "278", to: "320", y: 44)))
        #expect(svg.contains(self.wait("alpha — waited 8 s before attempt 3", from: "376", to: "488", y: 44)))

        #expect(svg.contains("<title>alpha — succeeded, 3 attempts</title>"))
        #expect(svg.contains("<text x=\"192\" y=\"48\" text-anchor=\"end\" fill=\"#155724\">✓ alpha</text>"))
        #expect(svg.contains("<title>alpha — attempt 1 of 3: failed (exited with status 1), 0 s to 5 s (5 s)</title>"))
        #expect(svg.contains("<title>alpha — attempt 2 of 3: failed, 8 s to 12 s (4 s)</title>"))
        #expect(svg.contains("<title>alpha — attempt 3 of 3: succeeded, 20 s to 30 s (10 s)</title>"))
        #expect(svg.contains("<title>beta — succeeded, 2 s to 40 s (38 s)</title>"))

        // Each attempt's tooltip belongs to its own bar.
        #expect(
            svg.contains(
                "<g><title>alpha — attempt 2 of 3: failed, 8 s to 12 s (4 s)</title>" + self.rect(x: "320", y: 37, width: "56", "failed")
                    + "</g>"))

        // Row order: by first start, not by input order nor by the latest attempt.
        let a = try #require(self.offset(of: "<title>alpha — succeeded", in: svg))
        let b = try #require(self.offset(of: "<title>beta", in: svg))
        #expect(a < b)
        // Within a row: wait 2 after attempt 1, attempt 3 after wait 2.
        let first = try #require(self.offset(of: "attempt 1 of 3", in: svg))
        let waited = try #require(self.offset(of: "waited 3 s before attempt 2", in: svg))
        let second = try #require(self.offset(of: "attempt 2 of 3", in: svg))
        let third = try #require(self.offset(of: "attempt 3 of 3", in: svg))
        #expect(first < waited && waited < second && second < third)

        // Nothing runs or waits: no now line, no retry.
        #expect(!svg.contains("<title>now"))
        #expect(!svg.contains("waiting to retry"))
        #expect(!svg.contains("stroke-width=\"1.5\""))
    }

    @Test("Equal first starts sort by name; a task's later attempts do not move its row")
    func tiesSortByName() throws {
        let late = TimelineBar(
            name: "b-retried", state: "succeeded", attempts: [self.attempt(1, "failed", 1, 2), self.attempt(2, "succeeded", 50, 60)])
        let svg = Timeline.svg([self.bar("c", 5, 6), late, self.bar("a", 1, 3)], now: 60)
        let a = try #require(self.offset(of: "<title>a —", in: svg))
        let b = try #require(self.offset(of: "<title>b-retried —", in: svg))
        let c = try #require(self.offset(of: "<title>c —", in: svg))
        #expect(a < b && b < c)
        // Span 60 s: x = 208 + t × 28 / 3; b-retried is the second row (bars at y 57).
        #expect(svg.contains(self.rect(x: "674.7", y: 57, width: "93.3", "succeeded")))
    }

    @Test("Without a policy, or beyond it, the attempt count has no \"of\"")
    func attemptsWithoutMaximum() {
        let attempts = [self.attempt(1, "failed", 0, 1), self.attempt(2, "succeeded", 2, 4)]
        let none = Timeline.svg([TimelineBar(name: "t", state: "succeeded", attempts: attempts)], now: 4)
        #expect(none.contains("<title>t — attempt 1: failed, 0 s to 1 s (1 s)</title>"))
        #expect(none.contains("<title>t — attempt 2: succeeded, 2 s to 4 s (2 s)</title>"))
        #expect(!none.contains(" of "))
        let fewer = Timeline.svg([TimelineBar(name: "t", state: "succeeded", attempts: attempts, maxAttempts: 1)], now: 4)
        #expect(fewer.contains("<title>t — attempt 2: succeeded, 2 s to 4 s (2 s)</title>"))
        #expect(!fewer.contains(" of "))
        let more = Timeline.svg([TimelineBar(name: "t", state: "succeeded", attempts: attempts, maxAttempts: 5)], now: 4)
        #expect(more.contains("<title>t — attempt 2 of 5: succeeded, 2 s to 4 s (2 s)</title>"))
    }

    @Test("Back-to-back attempts draw no wait")
    func noGapNoWait() {
        let svg = Timeline.svg(
            [TimelineBar(name: "t", state: "succeeded", attempts: [self.attempt(1, "failed", 0, 5), self.attempt(2, "succeeded", 5, 10)])],
            now: 10)
        #expect(self.occurrences(of: "<rect", in: svg) == 2)
        #expect(!svg.contains("stroke-dasharray=\"4 3\""))
        #expect(!svg.contains("waited"))
    }

    @Test("One attempt without a retry keeps the one-row format")
    func singleAttemptUnchanged() {
        let one = [TimelineBar(name: "solo", state: "succeeded", attempts: [self.attempt(1, "succeeded", 0, 5)], maxAttempts: 3)]
        let svg = Timeline.svg(one, now: 5)
        #expect(svg.contains("<g><title>solo — succeeded, 0 s to 5 s (5 s)</title>"))
        #expect(!svg.contains("attempt"))
        #expect(!svg.contains("stroke-dasharray=\"4 3\""))
        #expect(svg.contains(self.rect(x: "208", y: 37, width: "560", "succeeded")))
        #expect(self.occurrences(of: "<rect", in: svg) == 1)
        // The old initialiser builds the same bar.
        #expect(self.bar("solo", 0, 5) == TimelineBar(name: "solo", state: "succeeded", attempts: [self.attempt(1, "succeeded", 0, 5)]))
        #expect(
            Timeline.svg([self.bar("solo", 0, 5)], now: 5)
                == Timeline.svg([TimelineBar(name: "solo", state: "succeeded", attempts: [self.attempt(1, "succeeded", 0, 5)])], now: 5))
        #expect(TimelineBar(name: "x", state: "queued", start: nil, end: nil).attempts.isEmpty)
    }

    // MARK: - Waiting to retry

    @Test("A task waiting to retry: a dashed wait up to retryAt, which the axis includes")
    func waitingToRetry() {
        // Span 40 s (retryAt, beyond now and the attempt's end): x = 208 + 14 t.
        let flaky = TimelineBar(
            name: "flaky", state: "queued", attempts: [self.attempt(1, "failed", 0, 10, note: "exit 1")], retryAt: 40, maxAttempts: 3)
        let svg = Timeline.svg([flaky], now: 25)
        #expect(svg.contains(self.rect(x: "208", y: 37, width: "140", "failed")))
        #expect(svg.contains(self.wait("flaky — waiting to retry: attempt 2 of 3 at 40 s, in 15 s", from: "348", to: "768", y: 44)))
        #expect(svg.contains("<line x1=\"768\" y1=\"37\" x2=\"768\" y2=\"51\" stroke=\"#6c757d\" stroke-width=\"1.5\"/>"))
        #expect(svg.contains("<title>flaky — queued, 1 attempt so far</title>"))
        #expect(svg.contains("<title>flaky — attempt 1 of 3: failed (exit 1), 0 s to 10 s (10 s)</title>"))
        #expect(svg.contains(">40 s</text>"))
        #expect(svg.contains("<desc id=\"timeline-desc\">1 task started over 40 s: 1 queued.</desc>"))
        // Waiting is not running: no now line.
        #expect(!svg.contains("<title>now"))
        // Without the retry the attempt fills the axis.
        let alone = Timeline.svg([TimelineBar(name: "flaky", state: "failed", attempts: [self.attempt(1, "failed", 0, 10)])], now: 5)
        #expect(alone.contains(self.rect(x: "208", y: 37, width: "560", "failed")))
        #expect(!alone.contains(">40 s</text>"))
        #expect(!alone.contains("waiting to retry"))

        // Without a policy, no "of".
        let open = Timeline.svg([TimelineBar(name: "flaky", state: "queued", attempts: flaky.attempts, retryAt: 40)], now: 25)
        #expect(open.contains("<title>flaky — waiting to retry: attempt 2 at 40 s, in 15 s</title>"))
    }

    @Test("The next attempt's number follows the last attempt's")
    func retryNumber() {
        let bar = TimelineBar(
            name: "t", state: "queued", attempts: [self.attempt(1, "failed", 0, 2), self.attempt(2, "failed", 4, 6)], retryAt: 10,
            maxAttempts: 4)
        let svg = Timeline.svg([bar], now: 8)
        // Span 10 s: x = 208 + 56 t.
        #expect(svg.contains(self.wait("t — waited 2 s before attempt 2", from: "320", to: "432", y: 44)))
        #expect(svg.contains(self.wait("t — waiting to retry: attempt 3 of 4 at 10 s, in 2 s", from: "544", to: "768", y: 44)))
        #expect(svg.contains("<title>t — queued, 2 attempts so far</title>"))
        #expect(self.occurrences(of: "stroke-dasharray=\"4 3\"", in: svg) == 2)
    }

    @Test("A retry already due says when, not \"in\"")
    func retryInThePast() {
        // Span 20 s (retryAt; now is past it but nothing runs): x = 208 + 28 t.
        let bar = TimelineBar(name: "late", state: "queued", attempts: [self.attempt(1, "failed", 0, 10)], retryAt: 20, maxAttempts: 3)
        let svg = Timeline.svg([bar], now: 30)
        #expect(svg.contains(self.wait("late — waiting to retry: attempt 2 of 3 at 20 s", from: "488", to: "768", y: 44)))
        #expect(!svg.contains(", in "))
        #expect(svg.contains("<line x1=\"768\" y1=\"37\" x2=\"768\" y2=\"51\" stroke=\"#6c757d\" stroke-width=\"1.5\"/>"))
        // Due exactly now: nothing left to wait either.
        #expect(!Timeline.svg([bar], now: 20).contains(", in "))
        // A retry time before the attempt's end is drawn at its end.
        let early = TimelineBar(name: "early", state: "queued", attempts: [self.attempt(1, "failed", 0, 10)], retryAt: 4, maxAttempts: 3)
        let clamped = Timeline.svg([early], now: 2)
        #expect(clamped.contains(self.wait("early — waiting to retry: attempt 2 of 3 at 10 s, in 8 s", from: "768", to: "768", y: 44)))
    }

    @Test("retryAt is ignored while the last attempt runs")
    func retryIgnoredWhileRunning() {
        let bar = TimelineBar(
            name: "busy", state: "running", attempts: [self.attempt(1, "failed", 0, 10), self.attempt(2, "running", 12, nil)],
            retryAt: 50, maxAttempts: 3)
        let svg = Timeline.svg([bar], now: 20)
        #expect(!svg.contains("waiting to retry"))
        #expect(!svg.contains("stroke-width=\"1.5\""))
        #expect(!svg.contains(">50 s</text>"))
        // Span 20 s (now): x = 208 + 28 t; the running attempt reaches now, where the now line is.
        #expect(svg.contains(self.rect(x: "208", y: 37, width: "280", "failed")))
        #expect(svg.contains(self.rect(x: "544", y: 37, width: "224", "running")))
        #expect(svg.contains(self.wait("busy — waited 2 s before attempt 2", from: "488", to: "544", y: 44)))
        #expect(svg.contains("<title>busy — attempt 2 of 3: running, since 12 s (8 s so far)</title>"))
        #expect(svg.contains("<title>busy — running, 2 attempts</title>"))
        #expect(
            svg.contains(
                "<line x1=\"768\" y1=\"30\" x2=\"768\" y2=\"54\" stroke=\"#004085\" stroke-width=\"1\" stroke-dasharray=\"3 3\"><title>now, 20 s</title></line>"
            ))
    }

    // MARK: - Hostile text

    @Test("Hostile names, notes and states come out escaped and bounded in attempt titles")
    func hostileAttempts() {
        let name = "<script>alert('x')</script>"
        let note = "\"><script>alert(1)</script>\u{202E}\u{2066}"
        let state = "\"><img src=x onerror=alert(1)>"
        let long = String(repeating: "n", count: 5_000)
        let bars = [
            TimelineBar(
                name: name, state: "failed",
                attempts: [self.attempt(1, "failed", 0, 5, note: note), self.attempt(2, state, 6, 10, note: long)], retryAt: 20,
                maxAttempts: 3),
            TimelineBar(
                name: "a\u{202E}b" + String(repeating: "y", count: 5_000), state: "succeeded",
                attempts: [self.attempt(1, "failed", 1, 2, note: "\u{2028}\u{200F}"), self.attempt(2, "succeeded", 3, 4)]),
        ]
        let svg = Timeline.svg(bars, now: 8)
        for raw in ["<script", "<img", "'x'", "\u{202E}", "\u{2066}", "\u{2028}", "\u{200F}"] { #expect(!svg.contains(raw)) }
        let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        #expect(
            svg.contains(
                "<title>\(escaped) — attempt 1 of 3: failed (&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\u{FFFD}\u{FFFD}), 0 s to 5 s (5 s)</title>"
            ))
        #expect(
            svg.contains(
                "<title>\(escaped) — attempt 2 of 3: &quot;&gt;&lt;img src=x onerror=al… (\(String(repeating: "n", count: 255))…), 6 s to 10 s (4 s)</title>"
            ))
        #expect(!svg.contains(String(repeating: "n", count: 256)))
        #expect(svg.contains("<title>\(escaped) — waited 1 s before attempt 2</title>"))
        #expect(svg.contains("<title>\(escaped) — waiting to retry: attempt 3 of 3 at 20 s, in 12 s</title>"))
        // An unknown outcome is drawn neutral.
        #expect(svg.contains(self.rect(x: "376", y: 37, width: "112", "neutral")))

        // A long name is cut in every title and in its label; bidi controls are neutralised.
        let cut = "a\u{FFFD}b" + String(repeating: "y", count: 252) + "…"
        #expect(svg.contains("<title>\(cut) — attempt 1: failed (\u{FFFD}\u{FFFD}), 1 s to 2 s (1 s)</title>"))
        #expect(svg.contains("<title>\(cut) — attempt 2: succeeded, 3 s to 4 s (1 s)</title>"))
        #expect(svg.contains("<title>\(cut) — waited 1 s before attempt 2</title>"))
        #expect(svg.contains("a\u{FFFD}b" + String(repeating: "y", count: 20) + "…</text>"))
        #expect(!svg.contains(String(repeating: "y", count: 253)))
        #expect(svg.utf8.count < 6_000)
    }

    // MARK: - Absurd times

    @Test("Absurd attempt times neither trap nor print nan or inf")
    func absurdAttempts() {
        let bars = [
            TimelineBar(
                name: "absurd", state: "failed",
                attempts: [
                    self.attempt(1, "failed", .nan, 5), self.attempt(2, "failed", -.infinity, 3), self.attempt(3, "failed", -5, .nan),
                    self.attempt(4, "failed", 1e300, .infinity), self.attempt(5, "failed", 3, -1),
                ], retryAt: .nan, maxAttempts: 5),
            TimelineBar(name: "huge", state: "queued", attempts: [self.attempt(1, "failed", 0, 1e300)], retryAt: 1e308, maxAttempts: 2),
            TimelineBar(
                name: "below zero", state: "queued", attempts: [self.attempt(1, "failed", -10, -5), self.attempt(2, "failed", -3, -1)],
                retryAt: -.infinity),
            TimelineBar(
                name: "never", state: "queued",
                attempts: [self.attempt(1, "failed", .nan, .nan), self.attempt(2, "failed", .infinity, nil)], retryAt: 10),
            TimelineBar(name: "endless", state: "queued", attempts: [self.attempt(1, "failed", 0, 2)], retryAt: .infinity),
            TimelineBar(name: "overdue", state: "queued", attempts: [self.attempt(1, "failed", 0, 2)], retryAt: -1e308),
        ]
        for now in [0, 5, 1e308, -1, .infinity, -.infinity, .nan] {
            let svg = Timeline.svg(bars, now: now)
            #expect(svg.hasPrefix("<svg "))
            #expect(svg.hasSuffix("</svg>"))
            #expect(!svg.lowercased().contains("nan") && !svg.lowercased().contains("inf"))
            #expect(!svg.contains("=\"-") && !svg.contains(" -") && !svg.contains("(-"), "no negative coordinate or duration")
        }
    }

    @Test("Non-finite or negative times are dropped or clamped, and a non-finite retryAt ignored")
    func absurdAttemptsClamped() {
        let bars = [
            TimelineBar(
                name: "below zero", state: "failed", attempts: [self.attempt(1, "failed", -10, -5), self.attempt(2, "failed", -3, -1)],
                retryAt: -.infinity),
            TimelineBar(
                name: "never", state: "queued", attempts: [self.attempt(1, "failed", .nan, .nan), self.attempt(2, "failed", -.infinity, 1)]),
            TimelineBar(name: "endless", state: "queued", attempts: [self.attempt(1, "failed", 0, 2)], retryAt: .infinity),
            TimelineBar(
                name: "dropped", state: "succeeded", attempts: [self.attempt(1, "failed", .nan, 1), self.attempt(2, "succeeded", 3, 4)]),
        ]
        let svg = Timeline.svg(bars, now: 4)
        #expect(svg.contains("<title>below zero — attempt 1: failed, 0 s to 0 s (0 s)</title>"))
        #expect(svg.contains("<title>below zero — attempt 2: failed, 0 s to 0 s (0 s)</title>"))
        #expect(!svg.contains("waiting to retry"))
        #expect(!svg.contains("never"))
        // A non-finite retryAt leaves a one-attempt row in the one-row format.
        #expect(svg.contains("<title>endless — queued, 0 s to 2 s (2 s)</title>"))
        // An attempt that never validly started is left out, and not counted as an earlier attempt.
        #expect(svg.contains("<title>dropped — succeeded, 3 s to 4 s (1 s)</title>"))
        #expect(
            svg.contains(
                "<desc id=\"timeline-desc\">3 tasks started over 4 s: 1 succeeded, 1 failed, 1 queued; 1 earlier attempt drawn before the latest; 1 not started.</desc>"
            ))
    }

    @Test("Out-of-order and overlapping attempts are clamped to start no earlier than the previous end")
    func outOfOrderAttempts() throws {
        // "pad" sets the span to 40 s (x = 208 + 14 t) and takes the first row; "clamped" is the second (bars at y 57).
        let clamped = TimelineBar(
            name: "clamped", state: "succeeded",
            attempts: [self.attempt(1, "failed", 10, 20), self.attempt(2, "failed", 5, 15), self.attempt(3, "succeeded", 18, 30)],
            maxAttempts: 3)
        let svg = Timeline.svg([clamped, self.bar("pad", 0, 40)], now: 40)
        #expect(svg.contains("<title>clamped — attempt 1 of 3: failed, 10 s to 20 s (10 s)</title>"))
        #expect(svg.contains("<title>clamped — attempt 2 of 3: failed, 20 s to 20 s (0 s)</title>"))
        #expect(svg.contains("<title>clamped — attempt 3 of 3: succeeded, 20 s to 30 s (10 s)</title>"))
        #expect(svg.contains(self.rect(x: "348", y: 57, width: "140", "failed")))
        #expect(svg.contains(self.rect(x: "488", y: 57, width: "2", "failed")))
        #expect(svg.contains(self.rect(x: "488", y: 57, width: "140", "succeeded")))
        #expect(!svg.contains("stroke-dasharray=\"4 3\""))
        let pad = try #require(self.offset(of: "<title>pad", in: svg))
        let row = try #require(self.offset(of: "<title>clamped", in: svg))
        #expect(pad < row)

        // An attempt that ends before it starts ends when it starts; a gap after clamping is still a wait.
        let gap = TimelineBar(
            name: "gap", state: "succeeded",
            attempts: [self.attempt(1, "failed", 0, 10), self.attempt(2, "failed", 5, 8), self.attempt(3, "succeeded", 12, 20)])
        let gapped = Timeline.svg([gap], now: 20)
        #expect(gapped.contains("<title>gap — attempt 2: failed, 10 s to 10 s (0 s)</title>"))
        // Span 20 s: x = 208 + 28 t.
        #expect(gapped.contains(self.wait("gap — waited 2 s before attempt 3", from: "488", to: "544", y: 44)))
        #expect(self.occurrences(of: "stroke-dasharray=\"4 3\"", in: gapped) == 1)
    }

    // MARK: - Summary

    @Test("The description counts earlier attempts")
    func summaryCountsEarlierAttempts() {
        let alpha = TimelineBar(
            name: "alpha", state: "succeeded",
            attempts: [self.attempt(1, "failed", 0, 5), self.attempt(2, "failed", 8, 12), self.attempt(3, "succeeded", 20, 30)])
        let two = Timeline.svg([self.bar("beta", 2, 40), alpha], now: 40)
        #expect(
            two.contains(
                "<desc id=\"timeline-desc\">2 tasks started over 40 s: 2 succeeded; 2 earlier attempts drawn before the latest.</desc>"))

        let x = TimelineBar(
            name: "x", state: "succeeded", attempts: [self.attempt(1, "failed", 0, 5), self.attempt(2, "succeeded", 6, 10)])
        let one = Timeline.svg([x, TimelineBar(name: "y", state: "queued", attempts: [])], now: 10)
        #expect(
            one.contains(
                "<desc id=\"timeline-desc\">1 task started over 10 s: 1 succeeded; 1 earlier attempt drawn before the latest; 1 not started.</desc>"
            ))

        let waiting = TimelineBar(name: "w", state: "queued", attempts: [self.attempt(1, "failed", 0, 5)], retryAt: 10)
        let none = Timeline.svg([waiting, self.bar("z", 0, 2)], now: 6)
        #expect(!none.contains("earlier"))
        #expect(none.contains("<desc id=\"timeline-desc\">2 tasks started over 10 s: 1 succeeded, 1 queued.</desc>"))
    }

    @Test("Rows with attempts are deterministic and free of CSS and script")
    func attemptsDeterministic() {
        let bars = [
            TimelineBar(
                name: "a", state: "queued", attempts: [self.attempt(1, "failed", 0, 3, note: "x"), self.attempt(2, "failed", 4, 5)],
                retryAt: 9, maxAttempts: 3),
            TimelineBar(name: "b", state: "running", attempts: [self.attempt(1, "cancelled", 1, 2), self.attempt(2, "running", 3, nil)]),
        ]
        let svg = Timeline.svg(bars, now: 6)
        #expect(svg == Timeline.svg(bars, now: 6))
        #expect(!svg.contains("style"))
        #expect(!svg.contains("<script"))
        #expect(svg.contains(" fill=\"#e2e3e5\" stroke=\"#383d41\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\"/>"))
    }

    // MARK: - Grouped

    /// Three groups: a finished one with a failure (safe link), a running one (javascript: link), one not started
    /// (protocol-relative link, markup in its label).
    private var groups: [TimelineGroup] {
        [
            TimelineGroup(
                label: "Layer 1", href: "/jobs/7?layer=1&x=2#tasks", tasks: 4, counts: ["succeeded": 3, "failed": 1], start: 0, end: 20,
                retries: 1),
            TimelineGroup(
                label: "Layer 2", href: "javascript:alert(1)", tasks: 2, counts: ["running": 1, "queued": 1], start: 10, end: nil,
                retries: 0),
            TimelineGroup(
                label: "<b>Layer 3</b>", href: "//evil.example/x", tasks: 3, counts: ["queued": 3], start: nil, end: nil, retries: 2),
        ]
    }

    @Test("Grouped: one row per group, bars to their end or to now, framed by the worst state, with a strip of counts")
    func groupedRows() {
        // Span 40 s (now, as layer 2 runs): x = 208 + 14 t. Rows at y 34, 54, 74; bars 3 below; strips 9 below the bar's top.
        let svg = Timeline.grouped(self.groups, now: 40)
        #expect(svg.hasPrefix("<svg "))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.contains("<title id=\"timeline-title\">Timeline (by layer)</title>"))

        // Layer 1: failed frame, linked label, strip 3 succeeded then 1 failed.
        #expect(
            svg.contains(
                "<rect x=\"208\" y=\"37\" width=\"280\" height=\"14\" rx=\"2\" fill=\"#fff\" stroke=\"#721c24\" stroke-width=\"2\"/>"))
        #expect(svg.contains("<rect x=\"208\" y=\"46\" width=\"210\" height=\"4\" fill=\"#155724\"/>"))
        #expect(svg.contains("<rect x=\"418\" y=\"46\" width=\"70\" height=\"4\" fill=\"#721c24\"/>"))
        #expect(
            svg.contains(
                "<g><title>Layer 1 · 4 tasks · 3 succeeded, 1 failed · 0 s to 20 s (20 s) · 1 retry</title><a href=\"/jobs/7?layer=1&amp;x=2#tasks\"><text x=\"192\" y=\"48\" text-anchor=\"end\" fill=\"#721c24\" text-decoration=\"underline\">Layer 1 · 4</text></a><rect"
            ))

        // Layer 2: running frame up to now, strip 1 running then 1 queued, no link.
        #expect(
            svg.contains(
                "<rect x=\"348\" y=\"57\" width=\"420\" height=\"14\" rx=\"2\" fill=\"#fff\" stroke=\"#004085\" stroke-width=\"3\"/>"))
        #expect(svg.contains("<rect x=\"348\" y=\"66\" width=\"210\" height=\"4\" fill=\"#004085\"/>"))
        #expect(svg.contains("<rect x=\"558\" y=\"66\" width=\"210\" height=\"4\" fill=\"#333\"/>"))
        #expect(
            svg.contains(
                "<g><title>Layer 2 · 2 tasks · 1 running, 1 queued · since 10 s (30 s so far)</title><text x=\"192\" y=\"68\" text-anchor=\"end\" fill=\"#004085\">Layer 2 · 2</text><rect"
            ))

        // Layer 3: not started, no bar, no link, label escaped.
        #expect(
            svg.contains(
                "<g><title>&lt;b&gt;Layer 3&lt;/b&gt; · 3 tasks · 3 queued · not started</title><text x=\"192\" y=\"88\" text-anchor=\"end\" fill=\"#1b1b1b\">&lt;b&gt;Layer 3&lt;/b&gt; · 3</text></g>\n"
            ))
        #expect(!svg.contains("<b>"))
        #expect(!svg.contains("y=\"77\""))

        #expect(self.occurrences(of: "<rect", in: svg) == 6)
        #expect(self.occurrences(of: "<a ", in: svg) == 1)
        #expect(!svg.contains("javascript"))
        #expect(!svg.contains("evil"))
        #expect(
            svg.contains(
                "<line x1=\"768\" y1=\"30\" x2=\"768\" y2=\"94\" stroke=\"#004085\" stroke-width=\"1\" stroke-dasharray=\"3 3\"><title>now, 40 s</title></line>"
            ))
        #expect(
            svg.contains(
                "<desc id=\"timeline-desc\">9 tasks in 3 rows, one per layer or run of layers: 3 succeeded, 1 failed, 1 running, 4 queued; 3 retries. Too many tasks to draw one by one; each row links to its tasks.</desc>"
            ))
        #expect(svg == Timeline.grouped(self.groups, now: 40))
        #expect(!svg.contains("style"))
        #expect(!svg.contains("<script"))
    }

    @Test("Grouped: only same-origin paths become links")
    func groupedLinks() {
        func svg(_ href: String?) -> String {
            Timeline.grouped(
                [TimelineGroup(label: "L", href: href, tasks: 1, counts: ["succeeded": 1], start: 0, end: 1, retries: 0)], now: 1)
        }
        for href in [
            "javascript:alert(1)", "JAVASCRIPT:alert(1)", "//evil.example/x", "/\\evil.example", "https://evil.example/", "jobs/1", "/a b",
            "/a\tb", "/a\nb", "/a\u{0}b", "/a\u{85}b", "", nil,
        ] as [String?] {
            let drawn = svg(href)
            #expect(!drawn.contains("<a"), "\(String(describing: href))")
            #expect(drawn.contains("<text x=\"192\" y=\"48\" text-anchor=\"end\" fill=\"#1b1b1b\">L · 1</text>"))
        }
        #expect(svg("/jobs/1?layer=2#tasks").contains("<a href=\"/jobs/1?layer=2#tasks\"><text x=\"192\""))
        let quoted = svg("/x\"onmouseover=alert(1)")
        #expect(quoted.contains("<a href=\"/x&quot;onmouseover=alert(1)\">"))
        #expect(!quoted.contains("\"onmouseover"))
    }

    @Test("Grouped: hostile labels are escaped, cut and stripped of bidi controls")
    func groupedEscaping() {
        let groups = [
            TimelineGroup(label: "<script>alert(1)</script>", href: "/ok", tasks: 1, counts: ["failed": 1], start: 0, end: 1, retries: 0),
            TimelineGroup(label: "a\u{202E}b'\"", href: nil, tasks: 1, counts: ["\"><img src=x>": 1], start: 0, end: 1, retries: 0),
            TimelineGroup(label: String(repeating: "z", count: 5_000), href: nil, tasks: 1, counts: [:], start: nil, end: nil, retries: 0),
        ]
        let svg = Timeline.grouped(groups, now: 1, id: "x\" onload=\"alert(1)")
        for raw in ["<script", "<img", "\u{202E}", "\" onload", "'"] { #expect(!svg.contains(raw)) }
        #expect(svg.contains(">&lt;script&gt;alert(1)&lt;/scrip… · 1</text>"))
        #expect(svg.contains("<title>&lt;script&gt;alert(1)&lt;/scrip… · 1 task · 1 failed · 0 s to 1 s (1 s)</title>"))
        #expect(svg.contains(">a\u{FFFD}b&#39;&quot; · 1</text>"))
        #expect(svg.contains("1 &quot;&gt;&lt;img src=x&gt;"))
        #expect(svg.contains(String(repeating: "z", count: 23) + "… · 1</text>"))
        #expect(!svg.contains(String(repeating: "z", count: 24)))
        #expect(svg.contains("aria-labelledby=\"x__onload__alert_1_-title x__onload__alert_1_-desc\""))
        #expect(svg.utf8.count < 5_000)
    }

    @Test("Grouped: the strip has one rect per state with tasks, coloured by state")
    func groupedStrip() {
        let group = TimelineGroup(
            label: "Layers 1–2", href: nil, tasks: 4, counts: ["succeeded": 2, "failed": 0, "skipped": 1, "weird": 1], start: 0, end: 40,
            retries: 0)
        let svg = Timeline.grouped([group], now: 40)
        // Span 40 s, bar 560 wide; no failure or run: a neutral frame.
        #expect(
            svg.contains(
                "<rect x=\"208\" y=\"37\" width=\"560\" height=\"14\" rx=\"2\" fill=\"#fff\" stroke=\"#6c757d\" stroke-width=\"1\"/>"))
        #expect(svg.contains("<rect x=\"208\" y=\"46\" width=\"280\" height=\"4\" fill=\"#155724\"/>"))
        #expect(svg.contains("<rect x=\"488\" y=\"46\" width=\"140\" height=\"4\" fill=\"#6b5200\"/>"))
        #expect(svg.contains("<rect x=\"628\" y=\"46\" width=\"140\" height=\"4\" fill=\"#6c757d\"/>"))
        #expect(self.occurrences(of: "height=\"4\"", in: svg) == 3)
        #expect(self.occurrences(of: "<rect", in: svg) == 4)
        #expect(svg.contains("<title>Layers 1–2 · 4 tasks · 2 succeeded, 1 skipped, 1 weird · 0 s to 40 s (40 s)</title>"))
        #expect(!svg.contains("retr"))
        #expect(!svg.contains("<title>now"))
        #expect(svg.contains("4 tasks in 1 row, one per layer or run of layers: 2 succeeded, 1 skipped, 1 weird. Too many"))

        // Every state with tasks has its rect, in badge order then by name.
        let many = TimelineGroup(
            label: "L", href: nil, tasks: 8,
            counts: ["cancelled": 1, "skipped": 1, "queued": 1, "running": 1, "failed": 1, "succeeded": 1, "b-other": 1, "a-other": 1],
            start: 0, end: nil, retries: 0)
        let all = Timeline.grouped([many], now: 8)
        #expect(self.occurrences(of: "height=\"4\"", in: all) == 8)
        #expect(all.contains("stroke=\"#721c24\" stroke-width=\"2\"/>"), "failed outranks running")
        let fills = ["#155724", "#721c24", "#004085", "#333", "#6b5200", "#383d41", "#6c757d\"/><rect", "#6c757d\"/></g>"]
        let positions = fills.map { self.offset(of: "height=\"4\" fill=\"\($0)", in: all) ?? -1 }
        #expect(positions.allSatisfy { $0 >= 0 })
        #expect(positions == positions.sorted())
    }

    @Test("Grouped: retries are counted as \"1 retry\" or \"N retries\"")
    func groupedRetries() {
        func group(_ retries: Int, start: Double? = 0) -> TimelineGroup {
            TimelineGroup(label: "L", href: nil, tasks: 2, counts: ["succeeded": 2], start: start, end: 5, retries: retries)
        }
        let one = Timeline.grouped([group(1)], now: 5)
        #expect(one.contains("2 succeeded; 1 retry. Too many"))
        #expect(one.contains(" · 0 s to 5 s (5 s) · 1 retry</title>"))
        let many = Timeline.grouped([group(2), group(3)], now: 5)
        #expect(
            many.contains("<desc id=\"timeline-desc\">4 tasks in 2 rows, one per layer or run of layers: 4 succeeded; 5 retries. Too many"))
        #expect(many.contains(" · 0 s to 5 s (5 s) · 2 retries</title>"))
        #expect(many.contains(" · 0 s to 5 s (5 s) · 3 retries</title>"))
        let none = Timeline.grouped([group(0)], now: 5)
        #expect(!none.contains("retr"))
        #expect(none.contains("<desc id=\"timeline-desc\">2 tasks in 1 row, one per layer or run of layers: 2 succeeded. Too many"))
    }

    @Test("Grouped: nothing running, no now line; nothing at all, no trap")
    func groupedEdges() {
        let done = [
            TimelineGroup(label: "A", href: nil, tasks: 1, counts: ["succeeded": 1], start: 0, end: 10, retries: 0),
            TimelineGroup(label: "B", href: nil, tasks: 1, counts: ["queued": 1], start: nil, end: nil, retries: 0),
        ]
        let svg = Timeline.grouped(done, now: 30)
        #expect(!svg.contains("<title>now"))
        #expect(!svg.contains("stroke-dasharray"))
        // Span is the end (10 s), not now.
        #expect(svg.contains("<rect x=\"208\" y=\"37\" width=\"560\" height=\"14\""))
        #expect(svg.contains("<title>B · 1 task · 1 queued · not started</title>"))

        let empty = Timeline.grouped([], now: 0)
        #expect(empty.hasSuffix("</svg>"))
        #expect(!empty.contains("<rect"))
        #expect(empty.contains("0 tasks in 0 rows"))
    }

    @Test("Grouped: absurd times neither trap nor print nan or inf")
    func groupedAbsurd() {
        let groups = [
            TimelineGroup(label: "A", href: nil, tasks: 1, counts: ["failed": 1], start: .nan, end: 3, retries: 0),
            TimelineGroup(label: "B", href: nil, tasks: 1, counts: ["succeeded": 1], start: -5, end: 2, retries: 0),
            TimelineGroup(label: "C", href: nil, tasks: 1, counts: ["succeeded": 1], start: 10, end: 3, retries: 0),
            TimelineGroup(label: "D", href: nil, tasks: 1, counts: ["running": 1], start: 1e300, end: .infinity, retries: 0),
            TimelineGroup(label: "E", href: nil, tasks: 1, counts: ["queued": 1], start: .infinity, end: nil, retries: 0),
        ]
        for now in [0, 5, 1e308, -1, .infinity, -.infinity, .nan] {
            let svg = Timeline.grouped(groups, now: now)
            #expect(svg.hasSuffix("</svg>"))
            #expect(!svg.lowercased().contains("nan") && !svg.lowercased().contains("inf"))
        }
        let svg = Timeline.grouped(Array(groups.prefix(3)), now: 10)
        #expect(svg.contains("<title>A · 1 task · 1 failed · not started</title>"))
        #expect(svg.contains("<title>B · 1 task · 1 succeeded · 0 s to 2 s (2 s)</title>"))
        #expect(svg.contains("<title>C · 1 task · 1 succeeded · 10 s to 10 s (0 s)</title>"))
        #expect(!svg.contains("<title>now"))
    }

    @Test("Grouped: deterministic whatever the order counts were built in")
    func groupedDeterministic() {
        let states = ["zeta", "succeeded", "alpha", "failed", "mu", "queued"]
        var forward: [String: Int] = [:]
        for (i, state) in states.enumerated() { forward[state] = i + 1 }
        var backward: [String: Int] = [:]
        for (i, state) in states.enumerated().reversed() { backward[state] = i + 1 }
        func svg(_ counts: [String: Int]) -> String {
            Timeline.grouped(
                [TimelineGroup(label: "L", href: "/l", tasks: 21, counts: counts, start: 1, end: nil, retries: 4)], now: 9,
                id: "job-timeline")
        }
        #expect(svg(forward) == svg(backward))
        #expect(svg(forward).contains("aria-labelledby=\"job-timeline-title job-timeline-desc\""))
        #expect(svg(forward).contains("2 succeeded, 4 failed, 6 queued, 3 alpha, 5 mu, 1 zeta"))
    }
}
