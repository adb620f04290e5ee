public import Foundation

/// Where jobs, tasks and the audit log are kept (`store` in the configuration).
///
/// Absent: SQLite in `server.data_dir` (`sluice.db`), the embedded default for one host.
/// `store.postgres`: a PostgreSQL database, the store for several hosts. Its password never
/// comes from the configuration text (which is often in a repository): it is read from a file
/// or an environment variable when the store is opened.
public enum StoreSettings: Sendable, Equatable {
    /// SQLite in the data directory.
    case sqlite
    /// PostgreSQL.
    case postgres(Postgres)

    /// A short name: `sqlite` or `postgres`.
    public var kind: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// `store.postgres`.
    public struct Postgres: Sendable, Equatable {
        /// A libpq connection URL (`postgresql://user@host:5432/db?sslmode=verify-full`) or
        /// key=value conninfo string, without a password.
        public var url: String
        /// Where the password comes from; nil: none given (libpq's own `PGPASSFILE`,
        /// `~/.pgpass` or a password-less method such as peer or certificates).
        public var password: PasswordSource?
        /// Connections each host keeps to the database.
        public var pool: Int
        /// This host's id among the hosts sharing the store (`store.postgres.host`); nil: the
        /// machine's host name and the data directory (`defaultHostID`). It must stay the same
        /// across restarts, so that a restarted host takes its own running tasks back.
        public var host: String?
        /// How long a host's lease lasts without renewal (renewed every third of it): after that
        /// another host rescues its jobs.
        public var leaseSeconds: Double

        /// The lease length when none is configured.
        public static let defaultLeaseSeconds: Double = 15

        /// Creates settings.
        /// How long a connection over TCP waits on a silent network before it fails: a third of
        /// the lease, at least 1 s (`PostgresConnection.networkTimeouts`).
        public var networkTimeoutSeconds: Int { max(1, Int(self.leaseSeconds / 3)) }

        public init(url: String, password: PasswordSource?, pool: Int, host: String? = nil, leaseSeconds: Double = Self.defaultLeaseSeconds)
        {
            self.url = url
            self.password = password
            self.pool = pool
            self.host = host
            self.leaseSeconds = leaseSeconds
        }

        /// The host id: `host` if configured, else `<host name>:<data directory>` (two serves on
        /// one machine have different data directories, and a data directory has one serve).
        public func hostID(dataDirectory: String) -> String {
            if let host = self.host { return host }
            var name = [CChar](repeating: 0, count: 256)
            let hostName = gethostname(&name, name.count - 1) == 0 ? String(cString: name) : "localhost"
            return hostName + ":" + dataDirectory
        }
    }

    /// Where a database password is read from.
    public enum PasswordSource: Sendable, Equatable {
        /// A file holding the password (one line; a final newline is not part of it).
        case file(String)
        /// An environment variable of Sluice's process.
        case environment(String)
    }

    /// Why a password could not be read.
    public struct PasswordError: Error, Sendable, CustomStringConvertible {
        /// The configuration key of the source (`store.postgres.password_file` or `_env`).
        public let key: String
        /// What went wrong, naming the file or variable (never the password).
        public let reason: String

        public var description: String { "\(self.key): \(self.reason)" }
    }

    /// The password from `source`, read now.
    /// - Throws: `PasswordError` if the file cannot be read, is empty, has more than one line,
    ///   or the variable is unset or empty.
    public static func readPassword(
        _ source: PasswordSource, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PasswordError) -> String {
        switch source {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw PasswordError(key: "store.postgres.password_env", reason: "the environment variable \(name) is not set or empty")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PasswordError(key: "store.postgres.password_file", reason: "cannot read \(path)")
            }
            guard data.count <= 4096 else {
                throw PasswordError(key: "store.postgres.password_file", reason: "\(path) is larger than 4 KiB")
            }
            var bytes = [UInt8](data)
            // One final line break is how editors and `echo` end a file; it is not part of it.
            if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            guard !bytes.isEmpty else { throw PasswordError(key: "store.postgres.password_file", reason: "\(path) is empty") }
            guard !bytes.contains(UInt8(ascii: "\n")), !bytes.contains(0) else {
                throw PasswordError(key: "store.postgres.password_file", reason: "\(path) must hold the password on one line")
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw PasswordError(key: "store.postgres.password_file", reason: "\(path) is not UTF-8")
            }
            return text
        }
    }
}
