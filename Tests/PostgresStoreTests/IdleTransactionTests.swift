import Foundation
import Postgres
import TestSupport
import Testing

@testable import PostgresStore

/// The server's side of a partition: a transaction its client leaves idle is ended by the server,
/// so a host cut off mid-transaction does not keep its locks from the hosts that rescue it.
@Suite(ServerTrait.enabled, .timeLimit(.minutes(1)))
struct IdleTransactionTests {
    @Test("With a network timeout, the store's sessions end a transaction left idle (here 2 s), releasing its locks; without, they wait")
    func idleTransactionEnds() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let store = try PostgresJobStore(
            connection: schema.connection, password: TestPostgres.password, poolSize: 1, networkTimeoutSeconds: 1)
        defer { store.close() }
        let setting = try store.pool.withConnection { db in
            try db.execute("SHOW idle_in_transaction_session_timeout").first?.string(0)
        }
        #expect(setting == "2s")
        // A transaction that takes a lock and then hears nothing from its client.
        let stale = Result {
            try store.pool.withConnection { db -> Bool in
                _ = try db.execute("BEGIN")
                _ = try db.execute("SELECT pg_advisory_xact_lock(4242)")
                Thread.sleep(forTimeInterval: 3.5)
                _ = try db.execute("SELECT 1")
                return true
            }
        }
        #expect((try? stale.get()) == nil, "the server kept a transaction idle for 3.5 s")
        // Its lock is gone: another session takes it at once.
        let other = try schema.connect()
        defer { other.close() }
        _ = try other.execute("SET lock_timeout = '500ms'")
        #expect(throws: Never.self) { _ = try other.execute("SELECT pg_advisory_lock(4242)") }

        let plain = try schema.store(poolSize: 1)
        defer { plain.close() }
        #expect(try plain.pool.withConnection { db in try db.execute("SHOW idle_in_transaction_session_timeout").first?.string(0) } == "0")
    }
}
