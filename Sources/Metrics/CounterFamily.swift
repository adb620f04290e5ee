import Locking

/// A counter per label values: only goes up.
public final class CounterFamily: MetricFamily, Sendable {
    let name: String
    let help: String
    let labels: [String]
    var type: String { "counter" }
    private let series = Locked<[SeriesKey: Double]>([:])

    init(name: String, help: String, labels: [String]) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    /// Adds `amount` (not negative) to the series of `values` (one per label name).
    public func add(_ amount: Double = 1, _ values: [String] = []) {
        precondition(values.count == self.labels.count, "\(self.name): \(self.labels.count) label values expected")
        guard amount >= 0 else { return }
        self.series.withLock { $0[SeriesKey(values), default: 0] += amount }
    }

    /// The current value of the series of `values` (0 if it has none yet).
    public func value(_ values: [String] = []) -> Double { self.series.withLock { $0[SeriesKey(values)] ?? 0 } }

    func write(into text: inout String) {
        TextFormat.writeSeries(self.name, labels: self.labels, self.series.withLock { $0 }, into: &text)
    }
}
