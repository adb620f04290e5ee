import Locking

/// A counter per label values: only goes up.
public final class CounterFamily: MetricFamily, Sendable {
    let name: String
    let help: String
    let labels: [String]
    var type: String { "counter" }
    /// The series, in shards chosen by the calling thread (`MetricShards`), each behind its own
    /// lock: every request counts itself here, and with one lock the worker threads queued on it
    /// (a contended lock on 2 cores sleeps). A series' value is the sum over the shards.
    private let shards: [Locked<[SeriesKey: Double]>] = (0..<MetricShards.count).map { _ in Locked([:]) }

    init(name: String, help: String, labels: [String]) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    /// Adds `amount` (not negative) to the series of `values` (one per label name).
    public func add(_ amount: Double = 1, _ values: [String] = []) {
        precondition(values.count == self.labels.count, "\(self.name): \(self.labels.count) label values expected")
        guard amount >= 0 else { return }
        self.shards[MetricShards.current].withLock { $0[SeriesKey(values), default: 0] += amount }
    }

    /// The current value of the series of `values` (0 if it has none yet).
    public func value(_ values: [String] = []) -> Double {
        let key = SeriesKey(values)
        return self.shards.reduce(0) { sum, shard in sum + shard.withLock { $0[key] ?? 0 } }
    }

    func write(into text: inout String) {
        var all: [SeriesKey: Double] = [:]
        for shard in self.shards { all.merge(shard.withLock { $0 }, uniquingKeysWith: +) }
        TextFormat.writeSeries(self.name, labels: self.labels, all, into: &text)
    }
}
