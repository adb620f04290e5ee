import Locking

/// A gauge per label values: set to whatever it is now.
public final class GaugeFamily: MetricFamily, Sendable {
    let name: String
    let help: String
    let labels: [String]
    var type: String { "gauge" }
    private let series = Locked<[SeriesKey: Double]>([:])

    init(name: String, help: String, labels: [String]) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    /// Sets the series of `values` (one per label name).
    public func set(_ value: Double, _ values: [String] = []) {
        precondition(values.count == self.labels.count, "\(self.name): \(self.labels.count) label values expected")
        self.series.withLock { $0[SeriesKey(values)] = value }
    }

    /// Removes every series (before setting the ones that exist now).
    public func reset() { self.series.withLock { $0.removeAll() } }

    func write(into text: inout String) {
        TextFormat.writeSeries(self.name, labels: self.labels, self.series.withLock { $0 }, into: &text)
    }
}

/// A gauge or counter family computed at each scrape.
final class CollectedFamily: MetricFamily, Sendable {
    let name: String
    let help: String
    let type: String
    let labels: [String]
    let collect: @Sendable () -> [([String], Double)]

    init(name: String, help: String, type: String, labels: [String], collect: @escaping @Sendable () -> [([String], Double)]) {
        self.name = name
        self.help = help
        self.type = type
        self.labels = labels
        self.collect = collect
    }

    func write(into text: inout String) {
        var merged: [SeriesKey: Double] = [:]
        for (values, value) in self.collect() where values.count == self.labels.count { merged[SeriesKey(values)] = value }
        TextFormat.writeSeries(self.name, labels: self.labels, merged, into: &text)
    }
}
