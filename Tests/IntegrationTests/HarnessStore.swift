import Foundation
import Postgres
import TestSupport

/// Runs the HTTP-level suites on the PostgreSQL store too: with `SLUICE_TEST_HARNESS_STORE=postgres`
/// (scripts/test sets it for a second pass over AccessControlTests, CrashRecoveryTests,
/// IdentityIntegrationTests, SchemathesisTests and WalkingSkeletonTests), every configuration
/// `LighttpdHarness` writes gets a `store.postgres` section on a fresh schema of the private test
/// cluster, unless it names a store itself. CrashRecoveryTests reads the store directly: it opens
/// the same schema through `connection(directory:)`. Suites that read the SQLite file directly
/// (drain, storage faults) are not run this way.
enum HarnessStore {
    /// Whether configurations get the PostgreSQL store.
    static var isPostgres: Bool { ProcessInfo.processInfo.environment["SLUICE_TEST_HARNESS_STORE"] == "postgres" }

    /// The file in a harness directory that holds the connection string `apply` gave the
    /// configuration (no password: that is in `pgpw`).
    static let connectionFile = "pgconn"

    /// `config` with a `store.postgres` section on a new schema (its password in `pgpw` and its
    /// connection string, `search_path` included, in `connectionFile` in `directory`), or
    /// `config` unchanged when the store is SQLite or the config names one.
    static func apply(to config: String, directory: String) throws -> String {
        guard Self.isPostgres, !config.contains("store:"), let brace = config.firstIndex(of: "{") else { return config }
        let base = try TestPostgres.requireURL()
        let schema = TestPostgres.uniqueName("harness")
        let admin = try PostgresConnection(base, password: TestPostgres.password)
        defer { admin.close() }
        _ = try admin.execute("CREATE SCHEMA " + PostgresIdentifier.quoted(schema))
        let password = directory + "/pgpw"
        guard
            FileManager.default.createFile(
                atPath: password, contents: Data(((TestPostgres.password ?? "") + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw HarnessError("cannot write \(password)") }
        let connection = TestPostgres.connection(base, searchPath: schema)
        let connectionPath = directory + "/" + Self.connectionFile
        guard FileManager.default.createFile(atPath: connectionPath, contents: Data((connection + "\n").utf8)) else {
            throw HarnessError("cannot write \(connectionPath)")
        }
        let url = String(decoding: try JSONEncoder().encode(connection), as: UTF8.self)
        var result = config
        result.insert(
            contentsOf: "\n  store: { postgres: { url: \(url), password_file: \"\(password)\", pool: 2 } },", at: result.index(after: brace)
        )
        return result
    }

    /// The connection string of the schema `apply` gave the configuration in `directory` (the
    /// one a test opens to read the store sluice uses), or nil if it gave it none.
    static func connection(directory: String) throws -> String? {
        let path = directory + "/" + Self.connectionFile
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)
    }
}
