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
        /// Code to run before `sql`, in the same transaction (a table rebuild that reads the schema).
        public let body: (@Sendable (Connection) throws -> Void)?
        /// Whether foreign-key enforcement is off while the migration runs: a table another one
        /// references can only be rebuilt so (see `rebuildingForeignKeys`).
        public let rebuildsTables: Bool

        /// Creates a migration.
        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
            self.body = nil
            self.rebuildsTables = false
        }

        /// Creates a migration that rebuilds tables with `body`, then runs `sql`. Foreign keys are
        /// not enforced meanwhile and are checked (`PRAGMA foreign_key_check`) before the commit.
        ///
        /// Why: SQLite cannot change a CHECK constraint in place; its documented procedure
        /// (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes") creates
        /// the new table, copies the rows, drops the old one and renames the new. With foreign
        /// keys enforced, dropping a table that others reference deletes their rows (ON DELETE
        /// CASCADE), and `PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched
        /// off before the transaction begins.
        public init(name: String, rebuildingTables body: @escaping @Sendable (Connection) throws -> Void, sql: String) {
            self.name = name
            self.sql = sql
            self.body = body
            self.rebuildsTables = true
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
            let migration = self.migrations[version]
            let enforced = try connection.query("PRAGMA foreign_keys").first?[0].int64 == 1
            if migration.rebuildsTables && enforced { try connection.execute("PRAGMA foreign_keys = OFF") }
            defer { if migration.rebuildsTables && enforced { try? connection.execute("PRAGMA foreign_keys = ON") } }
            try connection.transaction {
                try migration.body?(connection)
                try connection.execute(migration.sql)
                if migration.rebuildsTables, let broken = try connection.query("PRAGMA foreign_key_check").first {
                    throw SQLiteError(
                        code: 1,
                        message: "migration \(migration.name) broke a foreign key: \(broken[0].text ?? "?") row \(broken[1].int64 ?? 0)")
                }
                try connection.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
