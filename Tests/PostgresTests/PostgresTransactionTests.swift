import Postgres
import Testing

@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresTransactionTests {
    private struct Abort: Error {}

    /// A table visible to other connections, dropped by `drop`.
    private static func makeTable(_ db: PostgresConnection, _ prefix: String) throws -> String {
        let table = TestCluster.uniqueName(prefix)
        try db.execute("CREATE TABLE \(table) (id int8 PRIMARY KEY, value int8 NOT NULL)")
        return table
    }

    @Test("A transaction commits when its body returns")
    func commits() throws {
        let db = try TestCluster.connect()
        let other = try TestCluster.connect()
        let table = try Self.makeTable(db, "commits")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        let value = try db.transaction {
            try db.execute("INSERT INTO \(table) VALUES (1, 10)")
            // Not visible to another connection before the commit.
            #expect(try other.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 0)
            return 42
        }
        #expect(value == 42)
        #expect(try other.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 1)
    }

    @Test("A transaction rolls back when its body throws, and the error comes through")
    func rollsBackOnThrow() throws {
        let db = try TestCluster.connect()
        let table = try Self.makeTable(db, "rollback")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        #expect(throws: Abort.self) {
            try db.transaction {
                try db.execute("INSERT INTO \(table) VALUES (1, 10)")
                throw Abort()
            }
        }
        #expect(try db.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 0)
        // The connection is out of the transaction and usable.
        try db.transaction { () throws -> Void in try db.execute("INSERT INTO \(table) VALUES (2, 20)") }
        #expect(try db.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 1)
    }

    @Test("A failed statement whose error the body swallowed still rolls the transaction back, with an error")
    func swallowedError() throws {
        let db = try TestCluster.connect()
        let table = try Self.makeTable(db, "swallowed")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        let error = #expect(throws: PostgresError.self) {
            try db.transaction {
                try db.execute("INSERT INTO \(table) VALUES (1, 10)")
                _ = try? db.execute("INSERT INTO \(table) VALUES (1, 10)")  // duplicate: the transaction is now aborted
            }
        }
        #expect(error?.kind == .query)
        #expect(try db.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 0)
    }

    @Test("Transactions do not nest")
    func noNesting() throws {
        let db = try TestCluster.connect()
        let error = #expect(throws: PostgresError.self) {
            try db.transaction { try db.transaction { () } }
        }
        #expect(error?.kind == .invalidArgument)
        #expect(throws: PostgresError.self) { try db.transaction { try db.execute("COMMIT") } }
        // After all that, no transaction is left open.
        try db.transaction { () }
    }

    @Test("The isolation level is the one asked for")
    func isolationLevels() throws {
        let db = try TestCluster.connect()
        let levels: [(PostgresIsolationLevel, String)] = [
            (.readCommitted, "read committed"), (.repeatableRead, "repeatable read"), (.serializable, "serializable"),
        ]
        for (level, name) in levels {
            let seen = try db.transaction(isolation: level) { try db.execute("SHOW transaction_isolation").first?.string(0) }
            #expect(seen == name)
        }
        #expect(try db.transaction { try db.execute("SHOW transaction_isolation").first?.string(0) } == "read committed")
    }

    @Test("A concurrent update makes a SERIALIZABLE transaction fail with 40001")
    func serializationFailure() throws {
        let a = try TestCluster.connect()
        let b = try TestCluster.connect()
        let table = try Self.makeTable(a, "conflict")
        defer { _ = try? a.execute("DROP TABLE \(table)") }
        try a.execute("INSERT INTO \(table) VALUES (1, 0)")
        let error = try #require(throws: PostgresError.self) {
            try a.transaction(isolation: .serializable) {
                _ = try a.execute("SELECT value FROM \(table) WHERE id = 1")
                try b.execute("UPDATE \(table) SET value = value + 1 WHERE id = 1")
                try a.execute("UPDATE \(table) SET value = value + 10 WHERE id = 1")
            }
        }
        #expect(error.sqlState == "40001")
        #expect(error.isSerializationFailure)
        #expect(error.kind == .query)
        #expect(try a.execute("SELECT value FROM \(table) WHERE id = 1").first?.int64(0) == 1)
    }

    @Test("retryingTransaction runs the body again after a serialization failure (write skew between two connections)")
    func retriesSerializationFailure() throws {
        let a = try TestCluster.connect()
        let b = try TestCluster.connect()
        let table = try Self.makeTable(a, "skew")
        defer { _ = try? a.execute("DROP TABLE \(table)") }
        try a.execute("INSERT INTO \(table) VALUES (1, 1), (2, 1)")
        var attempts = 0
        // Each transaction reads both rows and, seeing a sum of 2, clears the row the other one
        // does not touch: together they would leave 0, which no serial order can.
        let total = try a.retryingTransaction {
            attempts += 1
            let sum = try a.execute("SELECT sum(value)::int8 FROM \(table)").first?.int64(0)
            if attempts == 1 {
                try b.transaction(isolation: .serializable) {
                    #expect(try b.execute("SELECT sum(value)::int8 FROM \(table)").first?.int64(0) == 2)
                    try b.execute("UPDATE \(table) SET value = 0 WHERE id = 2")
                }
            }
            if sum == 2 { try a.execute("UPDATE \(table) SET value = 0 WHERE id = 1") }
            return sum
        }
        #expect(attempts == 2)
        #expect(total == 1)  // the second attempt saw b's commit
        let values = try a.execute("SELECT value FROM \(table) ORDER BY id").map { try $0.int64(0) }
        #expect(values == [1, 0])
    }

    @Test("retryingTransaction gives up after maxAttempts and throws the last serialization failure")
    func retryGivesUp() throws {
        let a = try TestCluster.connect()
        let b = try TestCluster.connect()
        let table = try Self.makeTable(a, "giveup")
        defer { _ = try? a.execute("DROP TABLE \(table)") }
        try a.execute("INSERT INTO \(table) VALUES (1, 0)")
        var attempts = 0
        let error = try #require(throws: PostgresError.self) {
            try a.retryingTransaction(maxAttempts: 3) {
                attempts += 1
                _ = try a.execute("SELECT value FROM \(table) WHERE id = 1")
                try b.execute("UPDATE \(table) SET value = value + 1 WHERE id = 1")
                try a.execute("UPDATE \(table) SET value = value + 10 WHERE id = 1")
            }
        }
        #expect(attempts == 3)
        #expect(error.sqlState == "40001")
        #expect(try a.execute("SELECT value FROM \(table) WHERE id = 1").first?.int64(0) == 3)
    }

    @Test("retryingTransaction does not retry other errors")
    func noRetryForOtherErrors() throws {
        let db = try TestCluster.connect()
        var attempts = 0
        let error = #expect(throws: PostgresError.self) {
            try db.retryingTransaction {
                attempts += 1
                try db.execute("SELECT 1 / 0")
            }
        }
        #expect(error?.sqlState == "22012")
        #expect(attempts == 1)
    }
}
