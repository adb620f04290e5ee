import Foundation

/// The PostgreSQL server the store tests use: the private cluster `scripts/test` starts, found
/// through the environment (as Tests/PostgresTests' `TestCluster` finds it).
///
/// - `SLUICE_TEST_POSTGRES_URL`: a libpq connection string without a password.
/// - `SLUICE_TEST_POSTGRES_PASSWORD`: the role's password, passed apart from the string.
/// - `SLUICE_TEST_POSTGRES_REQUIRED=1` (set by `scripts/test`): the PostgreSQL tests must run,
///   so a missing URL fails them with the reason instead of skipping them.
public enum TestPostgres {
    private static let environment = ProcessInfo.processInfo.environment

    /// The connection string, if there is one.
    public static let url: String? = environment["SLUICE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// The password, if one is needed.
    public static let password: String? = environment["SLUICE_TEST_POSTGRES_PASSWORD"]
    /// Whether the run must have a server (`scripts/test`).
    public static let isRequired = environment["SLUICE_TEST_POSTGRES_REQUIRED"] == "1"
    /// Whether the PostgreSQL tests run: with a server, or when one is required (and then they
    /// fail, saying why).
    public static let isEnabled = url != nil || isRequired

    /// Why the PostgreSQL tests are skipped.
    public static let disabledReason = """
        SLUICE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL cluster, \
        or set it (and SLUICE_TEST_POSTGRES_PASSWORD) to a test database
        """

    /// The URL is missing although `SLUICE_TEST_POSTGRES_REQUIRED=1`.
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "SLUICE_TEST_POSTGRES_URL is not set although SLUICE_TEST_POSTGRES_REQUIRED=1: scripts/test should have "
                + "started a private PostgreSQL cluster and exported it"
        }
    }

    /// The connection string, or `Missing`.
    public static func requireURL() throws -> String {
        guard let url else { throw Missing() }
        return url
    }

    /// A name no other test uses: lowercase letters, digits and `_`, so it needs no quoting.
    public static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// `connection` with `search_path` set to `schema` for every session (libpq's `options`),
    /// for a connection string of `key=value` pairs or a `postgresql://` URL. `schema` must need
    /// no quoting (see `uniqueName`).
    public static func connection(_ connection: String, searchPath schema: String) -> String {
        if connection.hasPrefix("postgresql://") || connection.hasPrefix("postgres://") {
            return connection + (connection.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
        }
        return connection + " options='-c search_path=\(schema)'"
    }
}
