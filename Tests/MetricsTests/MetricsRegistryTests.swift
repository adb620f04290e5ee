import Foundation
import Testing

@testable import Metrics

/// The Prometheus text exposition (format 0.0.4) of counters, gauges and histograms.
@Suite struct MetricsRegistryTests {
    @Test(
        "Counters and gauges: HELP and TYPE lines, one line per series in byte order of the label values, whole numbers without a fraction")
    func countersAndGauges() {
        let registry = MetricsRegistry()
        let requests = registry.counter("x_requests_total", help: "Requests.", labels: ["route", "status"])
        let up = registry.gauge("x_up", help: "Up.")
        requests.add(1, ["/b", "200"])
        requests.add(2, ["/a", "404"])
        requests.add(0.5, ["/a", "404"])
        requests.add(-3, ["/a", "404"])  // ignored: a counter only goes up
        up.set(1)
        #expect(
            registry.exposition() == """
                # HELP x_requests_total Requests.
                # TYPE x_requests_total counter
                x_requests_total{route="/a",status="404"} 2.5
                x_requests_total{route="/b",status="200"} 1
                # HELP x_up Up.
                # TYPE x_up gauge
                x_up 1

                """)
        #expect(requests.value(["/a", "404"]) == 2.5)
    }

    @Test("Label values and HELP text are escaped; series compare as bytes (K and the Kelvin sign are two series)")
    func escapingAndBytes() {
        let registry = MetricsRegistry()
        let family = registry.counter("x_total", help: "Line\\one\nline two", labels: ["name"])
        family.add(1, ["a\"b\\c\nd"])
        family.add(1, ["K"])
        family.add(1, ["\u{212A}"])
        let text = registry.exposition()
        #expect(text.contains("# HELP x_total Line\\\\one\\nline two\n"))
        #expect(text.contains("x_total{name=\"a\\\"b\\\\c\\nd\"} 1\n"))
        #expect(family.value(["K"]) == 1 && family.value(["\u{212A}"]) == 1)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("x_total{") }.count == 3)
    }

    @Test("Histograms: cumulative buckets with le, +Inf, _sum and _count; a value on a bound counts in that bucket")
    func histogram() {
        let registry = MetricsRegistry()
        let family = registry.histogram("x_seconds", help: "Durations.", labels: ["route"], buckets: [0.1, 1])
        family.observe(0.05, ["/a"])
        family.observe(0.1, ["/a"])
        family.observe(0.5, ["/a"])
        family.observe(7, ["/a"])
        family.observe(.nan, ["/a"])  // ignored
        #expect(
            registry.exposition() == """
                # HELP x_seconds Durations.
                # TYPE x_seconds histogram
                x_seconds_bucket{route="/a",le="0.1"} 2
                x_seconds_bucket{route="/a",le="1"} 3
                x_seconds_bucket{route="/a",le="+Inf"} 4
                x_seconds_sum{route="/a"} 7.65
                x_seconds_count{route="/a"} 4

                """)
        #expect(family.count(["/a"]) == 4)
    }

    @Test("A collected gauge is computed at each scrape; a gauge reset drops its series")
    func collected() {
        let registry = MetricsRegistry()
        let info = registry.gauge("x_info", help: "Info.", labels: ["hash"])
        info.set(1, ["old"])
        info.reset()
        info.set(1, ["new"])
        nonisolated(unsafe) var calls = 0
        registry.gaugeCollected("x_queue", help: "Queue.", labels: ["pipeline"]) {
            calls += 1
            return [(["b"], 2), (["a"], Double(calls)), (["wrong", "arity"], 9)]
        }
        let first = registry.exposition()
        #expect(first.contains("x_info{hash=\"new\"} 1\n") && !first.contains("old"))
        #expect(first.contains("x_queue{pipeline=\"a\"} 1\nx_queue{pipeline=\"b\"} 2\n"), "\(first)")
        #expect(!first.contains("wrong"))
        #expect(registry.exposition().contains("x_queue{pipeline=\"a\"} 2\n"))
    }

    @Test("Values: +Inf, -Inf, NaN, large and fractional numbers")
    func values() {
        #expect(TextFormat.value(.infinity) == "+Inf")
        #expect(TextFormat.value(-.infinity) == "-Inf")
        #expect(TextFormat.value(.nan) == "NaN")
        #expect(TextFormat.value(3) == "3")
        #expect(TextFormat.value(0.25) == "0.25")
        #expect(TextFormat.value(1e20) == "1e+20")
    }

    @Test("Concurrent updates from many threads all count")
    func concurrent() async {
        let registry = MetricsRegistry()
        let family = registry.counter("x_total", help: "X.", labels: ["n"])
        let histogram = registry.histogram("x_seconds", help: "X.", buckets: [1])
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    for _ in 0..<1000 {
                        family.add(1, [String(i % 2)])
                        histogram.observe(0.5)
                    }
                }
            }
        }
        #expect(family.value(["0"]) + family.value(["1"]) == 8000)
        #expect(histogram.count() == 8000)
    }

    @Test("Updates from 20 threads, spread over the families' shards, add up in values and in the exposition")
    func shardedThreads() {
        let registry = MetricsRegistry()
        let family = registry.counter("x_total", help: "X.", labels: ["n"])
        let histogram = registry.histogram("x_seconds", help: "X.", labels: ["n"], buckets: [1])
        let group = DispatchGroup()
        for i in 0..<20 {
            group.enter()
            Thread {
                for k in 0..<500 {
                    family.add(1, [String(k % 2)])
                    histogram.observe(i % 2 == 0 ? 0.5 : 2, ["a"])
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(family.value(["0"]) == 5000 && family.value(["1"]) == 5000)
        #expect(histogram.count(["a"]) == 10000)
        let text = registry.exposition()
        #expect(text.contains("x_total{n=\"0\"} 5000\n") && text.contains("x_total{n=\"1\"} 5000\n"), "\(text)")
        #expect(text.contains("x_seconds_bucket{n=\"a\",le=\"1\"} 5000\n"), "\(text)")
        #expect(text.contains("x_seconds_count{n=\"a\"} 10000\n") && text.contains("x_seconds_sum{n=\"a\"} 12500\n"), "\(text)")
    }
}
