/// The prepared statements one connection keeps for reuse, by SQL text: at most `capacity`,
/// dropping the least recently used one to make room.
///
/// Why bounded: callers build SQL with a placeholder per list element (`IN (?, ?, ?)`) or per
/// filter, so the number of distinct texts has no fixed limit, and each cached statement holds
/// SQLite memory for as long as the connection lives.
///
/// Dropping a statement from the cache only releases the cache's reference: the statement is
/// finalized (in `Statement.deinit`) once no caller holds it either, so a statement that is
/// still in use is never finalized under its user.
///
/// Eviction scans for the oldest entry, O(capacity) per miss: with a few dozen entries that is
/// cheaper than keeping a linked list in order on every hit.
struct StatementCache {
    private struct Entry {
        let statement: Statement
        var lastUse: UInt64
    }

    /// The most statements kept.
    let capacity: Int
    private var entries: [String: Entry] = [:]
    /// Increases on every lookup and insertion, so larger means more recently used.
    private var clock: UInt64 = 0

    /// An empty cache for at most `capacity` statements (0: none is kept).
    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The number of statements kept.
    var count: Int { self.entries.count }

    /// The cached statement for `sql`, marked as just used; nil if there is none.
    mutating func statement(for sql: String) -> Statement? {
        guard let statement = self.entries[sql]?.statement else { return nil }
        self.clock &+= 1
        self.entries[sql]?.lastUse = self.clock
        return statement
    }

    /// Keeps `statement` for its SQL text, first dropping the least recently used statement if
    /// the cache is full.
    mutating func insert(_ statement: Statement) {
        guard self.capacity > 0 else { return }
        if self.entries[statement.sql] == nil, self.entries.count >= self.capacity,
            let oldest = self.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            self.entries[oldest] = nil
        }
        self.clock &+= 1
        self.entries[statement.sql] = Entry(statement: statement, lastUse: self.clock)
    }

    /// Drops every statement (each is finalized once no caller holds it).
    mutating func removeAll() {
        self.entries.removeAll()
    }
}
