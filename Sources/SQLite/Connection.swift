internal import CSQLite

/// A connection to one SQLite database file.
///
/// Confinement: opened with `SQLITE_OPEN_NOMUTEX`, so a connection, its statement cache and its
/// statements must be used by one thread at a time; callers guard it (`SQLiteJobStore` keeps the
/// writer inside a `Locked` and uses it only in `withLock`, and lends each reader to one thread
/// at a time from a `Locked` pool). `@unchecked Sendable` only so that such a guard can hold it.
public final class Connection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var cache: [String: Statement] = [:]
    /// The database file path.
    public let path: String

    /// Opens (creating if needed) the database at `path`.
    /// - Parameter busyTimeoutMilliseconds: how long a statement waits for another connection's lock.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws(SQLiteError) {
        var db: OpaquePointer? = nil
        // NOMUTEX: the multi-thread mode; we serialize access ourselves, as GRDB does.
        // SQLite opens its files with O_CLOEXEC, so spawned tasks never inherit them.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message)
        }
        self.handle = db
        self.path = path
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        self.cache.removeAll()
        sqlite3_close_v2(self.handle)
    }

    /// Runs one or more statements without arguments (schema, pragmas).
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>? = nil
        let rc = sqlite3_exec(self.handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(self.handle), message: text, sql: sql)
        }
    }

    /// A prepared statement for `sql`, cached for reuse by this connection.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = self.cache[sql] { return cached }
        var statement: OpaquePointer? = nil
        let rc = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw self.error(rc, sql: sql) }
        let prepared = Statement(connection: self, handle: statement, sql: sql)
        self.cache[sql] = prepared
        return prepared
    }

    /// Runs a statement with arguments and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ arguments: [SQLValue] = []) throws(SQLiteError) -> [Row] {
        let statement = try self.prepare(sql)
        try statement.bind(arguments)
        return try statement.rows()
    }

    /// Runs a statement with arguments, ignoring rows.
    public func run(_ sql: String, _ arguments: [SQLValue] = []) throws(SQLiteError) {
        try self.query(sql, arguments)
    }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(self.handle) }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(self.handle)) }

    /// Runs `body` in a transaction: commits if it returns, rolls back if it throws.
    ///
    /// Write transactions use `BEGIN IMMEDIATE`, which takes the write lock up front: a deferred
    /// transaction that reads first and writes later can fail with SQLITE_BUSY at the upgrade,
    /// which the busy timeout cannot fix.
    public func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try self.execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let value = try body()
            try self.execute("COMMIT")
            return value
        } catch {
            try? self.execute("ROLLBACK")
            throw error
        }
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(self.handle), message: String(cString: sqlite3_errmsg(self.handle)), sql: sql)
    }
}
