import Postgres
import Testing

@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresAdvisoryLockTests {
    private struct Abort: Error {}

    private static func tryLock(_ db: PostgresConnection, _ key: Int64) throws -> Bool? {
        try db.execute("SELECT pg_try_advisory_lock($1)", [.int64(key)]).first?.bool(0)
    }

    private static func unlock(_ db: PostgresConnection, _ key: Int64) throws -> Bool? {
        try db.execute("SELECT pg_advisory_unlock($1)", [.int64(key)]).first?.bool(0)
    }

    @Test("While one connection holds the lock another cannot take it; afterwards it can")
    func excludes() throws {
        let holder = try TestCluster.connect()
        let other = try TestCluster.connect()
        let key = Int64.random(in: Int64.min...Int64.max)
        let result = try holder.withAdvisoryLock(key: key) { () throws -> String in
            #expect(try Self.tryLock(other, key) == false)
            // Another key is free.
            #expect(try Self.tryLock(other, key &+ 1) == true)
            #expect(try Self.unlock(other, key &+ 1) == true)
            return "done"
        }
        #expect(result == "done")
        #expect(try Self.tryLock(other, key) == true)
        #expect(try Self.unlock(other, key) == true)
    }

    @Test("The lock is released when the body throws, and survives a rollback inside the body")
    func releasedOnThrow() throws {
        let holder = try TestCluster.connect()
        let other = try TestCluster.connect()
        let key = Int64.random(in: Int64.min...Int64.max)
        #expect(throws: Abort.self) {
            try holder.withAdvisoryLock(key: key) {
                _ = try? holder.transaction { () throws -> Void in throw Abort() }
                #expect(try Self.tryLock(other, key) == false)
                throw Abort()
            }
        }
        #expect(try Self.tryLock(other, key) == true)
        #expect(try Self.unlock(other, key) == true)
    }

    @Test("A second connection waits for the lock until the first releases it")
    func waits() throws {
        let holder = try TestCluster.connect()
        let waiter = try TestCluster.connect()
        let key = Int64.random(in: Int64.min...Int64.max)
        try holder.withAdvisoryLock(key: key) {
            // lock_timeout turns the wait into an error that proves waiter did wait.
            try waiter.execute("SET lock_timeout = '200ms'")
            let error = #expect(throws: PostgresError.self) { try waiter.withAdvisoryLock(key: key) { () } }
            #expect(error?.sqlState == "55P03")
        }
        try waiter.withAdvisoryLock(key: key) { () throws -> Void in #expect(try Self.tryLock(holder, key) == false) }
    }
}
