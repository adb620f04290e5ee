import Foundation
import JobStore
import PostgresStore
import SQLiteStore

/// Opens the job store the configuration names (`store`): the one place that knows which
/// implementations exist. Everything above sees `any JobStore`.
enum StoreOpener {
    /// What `open` returns: the store, and what must live as long as the store is used
    /// (PostgreSQL: the session that holds the runner lock).
    struct Opened {
        let store: any JobStore
        let keepAlive: AnyObject?
    }

    /// Why the store could not be opened; `description` is what `sluice` prints.
    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens the store of `settings`. `dataDirectory` holds SQLite's file.
    /// - Parameter exclusive: whether this process runs the runner and so must be the only one
    ///   on the store (PostgreSQL: until hosts claim tasks under leases, a second `serve` on the
    ///   same database is refused, as SQLite's data directory lock refuses a second process).
    static func open(_ settings: StoreSettings, dataDirectory: String, exclusive: Bool) throws(OpenError) -> Opened {
        switch settings {
        case .sqlite:
            do {
                return Opened(store: try SQLiteJobStore(path: dataDirectory + "/sluice.db"), keepAlive: nil)
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
                store = try PostgresJobStore(connection: postgres.url, password: password, poolSize: postgres.pool)
            } catch {
                throw OpenError(description: "cannot open the PostgreSQL job store: \(error)")
            }
            var lock: AnyObject? = nil
            if exclusive {
                do { lock = try store.soleRunnerLock() } catch {
                    throw OpenError(description: "\(error)")
                }
            }
            return Opened(store: store, keepAlive: lock)
        }
    }
}
