/// Applies numbered schema migrations in order, recording progress in `PRAGMA user_version`.
///
/// Each migration runs in its own immediate transaction together with the version bump, so a
/// crash leaves the schema at a well-defined version.
public struct Migrator: Sendable {
    /// One schema step.
    public struct Migration: Sendable {
        /// A short name for logs.
        public let name: String
        /// The SQL to run (may hold several statements).
        public let sql: String

        /// Creates a migration.
        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    /// The migrations in order; version N means the first N have been applied.
    public let migrations: [Migration]

    /// Creates a migrator.
    public init(_ migrations: [Migration]) { self.migrations = migrations }

    /// Applies every migration not yet applied.
    /// - Throws: `SQLiteError`, or if the database is newer than this program knows.
    public func migrate(_ connection: Connection) throws {
        let current = Int(try connection.query("PRAGMA user_version").first?[0].int64 ?? 0)
        guard current <= self.migrations.count else {
            throw SQLiteError(code: 1, message: "database schema version \(current) is newer than this program (\(self.migrations.count))")
        }
        for version in current..<self.migrations.count {
            try connection.transaction {
                try connection.execute(self.migrations[version].sql)
                try connection.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
