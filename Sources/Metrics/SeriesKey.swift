/// Label values as a dictionary key compared by bytes (`String`'s `==` merges canonically
/// equivalent spellings, which would merge two series).
struct SeriesKey: Hashable, Sendable {
    let values: [String]

    init(_ values: [String]) { self.values = values }

    static func == (a: SeriesKey, b: SeriesKey) -> Bool {
        a.values.count == b.values.count && zip(a.values, b.values).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    func hash(into hasher: inout Hasher) {
        for value in self.values {
            hasher.combine(value.utf8.count)
            for byte in value.utf8 { hasher.combine(byte) }
        }
    }

    /// Byte order of the values, for a stable output.
    static func precedes(_ a: SeriesKey, _ b: SeriesKey) -> Bool {
        for (x, y) in zip(a.values, b.values) where !x.utf8.elementsEqual(y.utf8) {
            return x.utf8.lexicographicallyPrecedes(y.utf8)
        }
        return a.values.count < b.values.count
    }
}
