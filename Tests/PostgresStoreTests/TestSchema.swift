import Foundation
import Postgres
import PostgresStore
import TestSupport
import Testing

/// A fresh schema in the test database (`TestPostgres`) for one test, with connection strings
/// whose sessions use it as `search_path`; `drop()` removes it with everything in it.
struct TestSchema {
    /// The schema's name (needs no quoting).
    let name: String
    /// The test database's connection string, without the schema.
    let base: String
    /// The connection string with the schema as `search_path`.
    let connection: String

    /// Creates the schema; throws `TestPostgres.Missing` without a server.
    init() throws {
        self.base = try TestPostgres.requireURL()
        self.name = TestPostgres.uniqueName("sluice_pgstore_test")
        self.connection = TestPostgres.connection(self.base, searchPath: self.name)
        try PostgresConnection(self.base, password: TestPostgres.password).execute("CREATE SCHEMA " + PostgresIdentifier.quoted(self.name))
    }

    /// A new connection whose `search_path` is the schema.
    func connect() throws -> PostgresConnection { try PostgresConnection(self.connection, password: TestPostgres.password) }

    /// A store on the schema.
    func store(poolSize: Int = 2, busyTimeoutMilliseconds: Int = 5000, extra: String = "") throws -> PostgresJobStore {
        try PostgresJobStore(
            connection: self.connection + extra, password: TestPostgres.password, poolSize: poolSize,
            busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// Drops the schema and everything in it.
    func drop() {
        guard let name = try? PostgresIdentifier.quoted(self.name) else { return }
        _ = try? PostgresConnection(self.base, password: TestPostgres.password).execute("DROP SCHEMA \(name) CASCADE")
    }
}

/// Whether the suites that need a server run, and why not.
enum ServerTrait {
    static let enabled = ConditionTrait.enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason))
}
