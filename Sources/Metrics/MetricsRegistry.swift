import Locking

/// The metrics of one process, and their Prometheus text exposition (format 0.0.4).
///
/// Families are registered once, at start, and keep their order in the output. Each family
/// keeps its series by label values compared as bytes (never by Unicode equivalence, so two
/// spellings that Swift's `==` would merge stay two series). Updates take one lock per family;
/// a scrape takes each family's lock in turn, plus whatever its `collect` closures do.
public final class MetricsRegistry: Sendable {
    private let families = Locked<[any MetricFamily]>([])

    /// An empty registry.
    public init() {}

    /// Registers a counter family with the given label names.
    public func counter(_ name: String, help: String, labels: [String] = []) -> CounterFamily {
        self.register(CounterFamily(name: name, help: help, labels: labels))
    }

    /// Registers a gauge family with the given label names.
    public func gauge(_ name: String, help: String, labels: [String] = []) -> GaugeFamily {
        self.register(GaugeFamily(name: name, help: help, labels: labels))
    }

    /// Registers a histogram family with the given label names and bucket upper bounds
    /// (ascending; `+Inf` is added).
    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> HistogramFamily {
        self.register(HistogramFamily(name: name, help: help, labels: labels, buckets: buckets))
    }

    /// Registers a gauge family whose series are computed at each scrape by `collect`
    /// (label values and value per series).
    public func gaugeCollected(
        _ name: String, help: String, labels: [String] = [], collect: @escaping @Sendable () -> [([String], Double)]
    ) {
        _ = self.register(CollectedFamily(name: name, help: help, type: "gauge", labels: labels, collect: collect))
    }

    /// Registers a counter family whose series are read at each scrape by `collect` from
    /// counts kept elsewhere (which may start again from 0: Prometheus takes that as a reset).
    public func counterCollected(
        _ name: String, help: String, labels: [String] = [], collect: @escaping @Sendable () -> [([String], Double)]
    ) {
        _ = self.register(CollectedFamily(name: name, help: help, type: "counter", labels: labels, collect: collect))
    }

    private func register<F: MetricFamily>(_ family: F) -> F {
        self.families.withLock { $0.append(family) }
        return family
    }

    /// The text exposition of every family, in registration order.
    public func exposition() -> String {
        var text = ""
        for family in self.families.withLock({ $0 }) {
            text += "# HELP \(family.name) \(TextFormat.escapeHelp(family.help))\n"
            text += "# TYPE \(family.name) \(family.type)\n"
            family.write(into: &text)
        }
        return text
    }

    /// The media type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// One metric family: a name, help, type and its series.
protocol MetricFamily: Sendable {
    var name: String { get }
    var help: String { get }
    var type: String { get }
    func write(into text: inout String)
}
