import Postgres

/// The parameters of a statement built piece by piece: each value added gets the next `$n`.
struct Arguments {
    private(set) var values: [PostgresValue?] = []

    /// Adds `value` and returns its placeholder.
    mutating func add(_ value: PostgresValue?) -> String {
        self.values.append(value)
        return "$\(self.values.count)"
    }

    /// Adds every value and returns their placeholders, comma-separated.
    mutating func list(_ values: [PostgresValue]) -> String {
        values.map { self.add($0) }.joined(separator: ", ")
    }
}
