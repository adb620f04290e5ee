import ByteStrings

/// Label values as a dictionary key compared by bytes (`String`'s `==` merges canonically
/// equivalent spellings, which would merge two series).
struct SeriesKey: Hashable, Sendable {
    let values: [String]

    init(_ values: [String]) { self.values = values }

    static func == (a: SeriesKey, b: SeriesKey) -> Bool {
        a.values.count == b.values.count && zip(a.values, b.values).allSatisfy { $0.bytesEqual($1) }
    }

    func hash(into hasher: inout Hasher) {
        for value in self.values {
            hasher.combine(value.utf8.count)
            // The bytes in one call: a byte at a time was most of the cost of counting a request.
            // (A string without contiguous UTF-8 is copied, so equal bytes always hash alike.)
            if value.utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
                Array(value.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
            }
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
