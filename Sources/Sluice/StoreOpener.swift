import Foundation
import JobStore
import PostgresStore
import SQLiteStore

/// Opens the job store the configuration names (`store`): the one place that knows which
/// implementations exist. Everything above sees `any JobStore`.
enum StoreOpener {
    /// Why the store could not be opened; `description` is what `sluice` prints.
    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens the store of `settings`. `dataDirectory` holds SQLite's file. (Several hosts may
    /// open one PostgreSQL store: their runners share it under leases, `SharedJobStore`.)
    static func open(_ settings: StoreSettings, dataDirectory: String) throws(OpenError) -> any JobStore {
        switch settings {
        case .sqlite:
            do {
                return try SQLiteJobStore(path: dataDirectory + "/sluice.db")
            } catch {
                throw OpenError(description: "cannot open the job store: \(error)")
            }
        case .postgres(let postgres):
            var password: String? = nil
            if let source = postgres.password {
                do { password = try StoreSettings.readPassword(source) } catch { throw OpenError(description: error.description) }
            }
            let store: PostgresJobStore
            do {
                // A call blocked on a partitioned server must fail before the lease runs out, so
                // that the host notices the loss and registers again (RunnerLoop.keepLease).
                store = try PostgresJobStore(
                    connection: postgres.url, password: password, poolSize: postgres.pool,
                    networkTimeoutSeconds: postgres.networkTimeoutSeconds)
            } catch {
                throw OpenError(description: "cannot open the PostgreSQL job store: \(error)")
            }
            return store
        }
    }
}
