/// The known name closest to a misspelt one, for "did you mean …?" hints.
public enum NearestName {
    /// The name in `candidates` nearest to `name` by edit distance over UTF-8 bytes (one byte
    /// inserted, deleted or replaced per step), if it is near enough to be a likely typo: at most
    /// a third of the longer name's length, and at most 3. Ties go to the name first in byte
    /// order. Nil when nothing is that close, or when `name` itself is among the candidates.
    public static func suggestion(for name: String, among candidates: [String]) -> String? {
        let target = Array(name.utf8)
        var best: (name: String, distance: Int)? = nil
        for candidate in candidates.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let bytes = Array(candidate.utf8)
            let limit = min(3, max(1, max(bytes.count, target.count) / 3))
            let distance = Self.distance(target, bytes)
            if distance == 0 { return nil }
            if distance <= limit, best.map({ distance < $0.distance }) ?? true { best = (candidate, distance) }
        }
        return best?.name
    }

    /// Levenshtein distance, two rows.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
