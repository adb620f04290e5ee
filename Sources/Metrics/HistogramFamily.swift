import Locking

/// A histogram per label values: counts of observations at or below each bucket's upper bound,
/// their sum and their count.
public final class HistogramFamily: MetricFamily, Sendable {
    let name: String
    let help: String
    let labels: [String]
    /// Ascending upper bounds, without `+Inf`.
    let buckets: [Double]
    var type: String { "histogram" }

    struct Series {
        /// Observations per bucket (not cumulative), the last one for `+Inf`.
        var counts: [UInt64]
        var sum: Double = 0
    }

    /// The series in shards by calling thread, as `CounterFamily` keeps them.
    private let shards: [Locked<[SeriesKey: Series]>] = (0..<MetricShards.count).map { _ in Locked([:]) }

    init(name: String, help: String, labels: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labels = labels
        self.buckets = buckets.filter(\.isFinite).sorted()
    }

    /// Records one observation in the series of `values` (one per label name).
    public func observe(_ value: Double, _ values: [String] = []) {
        precondition(values.count == self.labels.count, "\(self.name): \(self.labels.count) label values expected")
        guard !value.isNaN else { return }
        let index = self.buckets.firstIndex { value <= $0 } ?? self.buckets.count
        self.shards[MetricShards.current].withLock { all in
            let key = SeriesKey(values)
            // In place: a copy taken out of the dictionary and stored back copied its counts too.
            if let found = all.index(forKey: key) {
                all.values[found].counts[index] += 1
                all.values[found].sum += value
            } else {
                var series = Series(counts: [UInt64](repeating: 0, count: self.buckets.count + 1))
                series.counts[index] += 1
                series.sum += value
                all[key] = series
            }
        }
    }

    /// How many observations the series of `values` has.
    public func count(_ values: [String] = []) -> UInt64 {
        let key = SeriesKey(values)
        return self.shards.reduce(0) { total, shard in total + (shard.withLock { $0[key]?.counts.reduce(0, +) } ?? 0) }
    }

    /// Every series, summed over the shards.
    private var merged: [SeriesKey: Series] {
        var all: [SeriesKey: Series] = [:]
        for shard in self.shards {
            all.merge(shard.withLock { $0 }) { a, b in
                Series(counts: zip(a.counts, b.counts).map { $0 + $1 }, sum: a.sum + b.sum)
            }
        }
        return all
    }

    func write(into text: inout String) {
        let snapshot = self.merged
        for key in snapshot.keys.sorted(by: SeriesKey.precedes) {
            let series = snapshot[key]!
            var cumulative: UInt64 = 0
            for (i, bound) in (self.buckets + [.infinity]).enumerated() {
                cumulative += series.counts[i]
                let labels = TextFormat.labels(self.labels, key.values, extra: [("le", TextFormat.value(bound))])
                text += "\(self.name)_bucket\(labels) \(cumulative)\n"
            }
            text += "\(self.name)_sum\(TextFormat.labels(self.labels, key.values)) \(TextFormat.value(series.sum))\n"
            text += "\(self.name)_count\(TextFormat.labels(self.labels, key.values)) \(cumulative)\n"
        }
    }
}
