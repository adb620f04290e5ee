import Foundation
import Postgres
import Testing

/// The PostgreSQL server the tests use: the private cluster `scripts/test` starts (see its
/// header), found through the environment.
///
/// - `SLUICE_TEST_POSTGRES_URL`: a libpq connection string without a password.
/// - `SLUICE_TEST_POSTGRES_PASSWORD`: the role's password, passed apart from the string.
/// - `SLUICE_TEST_POSTGRES_REQUIRED=1` (set by `scripts/test`): the suites must run, so a missing
///   URL fails every test with the reason instead of skipping it.
///
/// Without the URL and without `REQUIRED` (a plain `swift test`), the suites that need a server
/// are disabled, and Swift Testing prints `disabledReason` for them.
enum TestCluster {
    private static let environment = ProcessInfo.processInfo.environment

    /// The connection string, if there is one.
    static let url: String? = environment["SLUICE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// The password, if one is needed.
    static let password: String? = environment["SLUICE_TEST_POSTGRES_PASSWORD"]
    /// Whether the run must have a server (`scripts/test`).
    static let isRequired = environment["SLUICE_TEST_POSTGRES_REQUIRED"] == "1"

    /// Whether the suites that need a server run: with one, or when one is required (and then
    /// they fail, saying why).
    static let isEnabled = url != nil || isRequired

    /// Why the suites are disabled.
    static let disabledReason: Comment = """
        SLUICE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL cluster, \
        or set it (and SLUICE_TEST_POSTGRES_PASSWORD) to a test database
        """

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "SLUICE_TEST_POSTGRES_URL is not set although SLUICE_TEST_POSTGRES_REQUIRED=1: scripts/test should have "
                + "started a private PostgreSQL cluster and exported it"
        }
    }

    /// The connection string, or `Missing`.
    static func requireURL() throws -> String {
        guard let url else { throw Missing() }
        return url
    }

    /// A new connection to the test database.
    static func connect() throws -> PostgresConnection {
        try PostgresConnection(requireURL(), password: password)
    }

    /// The connection string's `key=value` pairs (scripts/test writes them unquoted).
    static func parameters() throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in try requireURL().split(separator: " ") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return result
    }

    /// A name no other test uses (lowercase, so it is also a valid channel name).
    static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}
