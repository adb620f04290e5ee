import Foundation
import SQLite
import TestSupport
import Testing

/// The per-connection cache of prepared statements stays bounded however many distinct SQL
/// texts are prepared (dynamic `IN (?, ?, …)` lists), and eviction never breaks a statement.
@Suite struct StatementCacheTests {
    /// A connection to a fresh database with a table `t` of rows 1...10.
    private static func connection(_ dir: TemporaryDirectory, capacity: Int = Connection.defaultStatementCacheCapacity) throws
        -> Connection
    {
        let db = try Connection(path: dir.file("db.sqlite"), statementCacheCapacity: capacity)
        try db.execute("CREATE TABLE t (x INTEGER)")
        for x in 1...10 { try db.run("INSERT INTO t VALUES (?)", [.integer(Int64(x))]) }
        return db
    }

    /// `SELECT count(*) FROM t WHERE x IN (?, …)` with `n` placeholders, as the job store builds them.
    private static func inList(_ n: Int) -> String {
        "SELECT count(*) FROM t WHERE x IN (" + Array(repeating: "?", count: n).joined(separator: ",") + ")"
    }

    @Test("Preparing more distinct SQL texts than the bound keeps the cache at the bound")
    func boundedByDefault() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.connection(dir)
        let bound = Connection.defaultStatementCacheCapacity
        var largest = 0
        for n in 1...(bound * 3) {
            let rows = try db.query(Self.inList(n), (1...n).map { .integer(Int64($0)) })
            #expect(rows.first?[0] == .integer(Int64(min(n, 10))))
            largest = max(largest, db.cachedStatementCount)
        }
        #expect(largest == bound)
        #expect(db.cachedStatementCount == bound)
    }

    @Test("A statement used again and again survives evictions; the least recently used one is dropped")
    func leastRecentlyUsedIsEvicted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.connection(dir, capacity: 4)
        let hot = try db.prepare("SELECT count(*) FROM t")
        let cold = try db.prepare("SELECT max(x) FROM t")
        for n in 1...20 {
            // Keep `hot` the most recently used; `cold` is never touched again.
            #expect(try db.prepare("SELECT count(*) FROM t") === hot)
            try db.run(Self.inList(n), (1...n).map { .integer(Int64($0)) })
        }
        #expect(db.cachedStatementCount == 4)
        #expect(try db.prepare("SELECT count(*) FROM t") === hot)
        #expect(try db.prepare("SELECT max(x) FROM t") !== cold)
        #expect(try hot.rows().first?[0] == .integer(10))
    }

    @Test("A statement a caller still holds keeps working after the cache dropped it")
    func evictedStatementStillWorks() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.connection(dir, capacity: 2)
        let held = try db.prepare("SELECT x FROM t WHERE x > ? ORDER BY x")
        try held.bind([.integer(7)])
        for n in 1...10 { try db.run(Self.inList(n), (1...n).map { .integer(Int64($0)) }) }
        #expect(db.cachedStatementCount == 2)
        // Evicted from the cache, but not finalized: the caller's reference keeps it alive.
        #expect(try held.rows().map { $0[0] } == [.integer(8), .integer(9), .integer(10)])
        // Preparing the same text again gives a new statement that works as well.
        let again = try db.prepare("SELECT x FROM t WHERE x > ? ORDER BY x")
        #expect(again !== held)
        try again.bind([.integer(9)])
        #expect(try again.rows().map { $0[0] } == [.integer(10)])
        // Writes still commit, so no evicted statement was left stepping inside a read.
        try db.run("INSERT INTO t VALUES (11)")
        try db.transaction { try db.run("DELETE FROM t WHERE x = 11") }
        #expect(try db.query("SELECT count(*) FROM t").first?[0] == .integer(10))
    }

    @Test("Uncached statements are not kept, and a capacity of 0 keeps none")
    func uncached() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Self.connection(dir)
        let before = db.cachedStatementCount
        for n in 1...100 { try db.run(Self.inList(n), (1...n).map { .integer(Int64($0)) }, cached: false) }
        #expect(db.cachedStatementCount == before)
        let first = try db.prepare("SELECT 1", cached: false)
        #expect(try db.prepare("SELECT 1", cached: false) !== first)

        let none = try Connection(path: dir.file("db.sqlite"), statementCacheCapacity: 0)
        #expect(try none.query("SELECT count(*) FROM t").first?[0] == .integer(10))
        #expect(try none.query("SELECT count(*) FROM t").first?[0] == .integer(10))
        #expect(none.cachedStatementCount == 0)
    }
}
