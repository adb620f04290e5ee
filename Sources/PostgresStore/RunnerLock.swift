public import JobStore
import Postgres

/// The session advisory lock that makes one `sluice serve` the only runner on a PostgreSQL store,
/// held on a connection of its own for as long as the value lives.
///
/// Why: every runner takes on all unfinished jobs at start (re-adoption and recovery assume one
/// runner per store), so two hosts on one database would run each task twice. Until hosts claim
/// tasks under leases, a second `serve` on the same store is refused, as a second process on one
/// SQLite data directory is. The lock goes with the session: if the host dies or its connection
/// breaks, PostgreSQL releases it, and another host can start.
public final class RunnerLock: @unchecked Sendable {
    // @unchecked: `connection` is only touched by `deinit` (nothing else uses it after init).
    private let connection: PostgresConnection

    init(connection: PostgresConnection) { self.connection = connection }

    deinit { self.connection.close() }
}

extension PostgresJobStore {
    /// Takes the runner lock of this store's schema without waiting.
    /// - Throws: `JobStoreError` if another session holds it (another `sluice serve` on the same
    ///   database and schema), or if no connection can be made.
    public func soleRunnerLock() throws(JobStoreError) -> RunnerLock {
        let connection: PostgresConnection
        do { connection = try PostgresConnection(self.connectionString, password: self.password) } catch {
            throw JobStoreError("cannot connect to the PostgreSQL job store for its runner lock: \(error.message)")
        }
        let key = AdvisoryLockKey.key(["runner"], namespace: self.namespace)
        let taken: Bool
        do { taken = try connection.execute("SELECT pg_try_advisory_lock($1)", [.int64(key)])[0].bool(0) ?? false } catch {
            connection.close()
            throw JobStoreError("cannot take the PostgreSQL job store's runner lock: \(error.message)")
        }
        guard taken else {
            connection.close()
            throw JobStoreError(
                "another sluice serve already runs on this PostgreSQL store (schema \(self.namespace)); "
                    + "several hosts on one database need task leases, which are not there yet: stop the other one, or give this one its own database or schema"
            )
        }
        return RunnerLock(connection: connection)
    }
}
