internal import CSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// A connection to one SQLite database file.
///
/// Confinement: opened with `SQLITE_OPEN_NOMUTEX`, so a connection, its statement cache and its
/// statements must be used by one thread at a time; callers guard it (`SQLiteJobStore` keeps the
/// writer inside a `Locked` and uses it only in `withLock`, and lends each reader to one thread
/// at a time from a `Locked` pool). `@unchecked Sendable` only so that such a guard can hold it.
public final class Connection: @unchecked Sendable {
    /// How many prepared statements a connection keeps by default: more than the job store's
    /// fixed statements, so that only dynamic ones (`IN` lists) take turns.
    public static let defaultStatementCacheCapacity = 64

    private let handle: OpaquePointer
    private var cache: StatementCache
    /// The observer `observeRowChanges` installed, kept alive here because SQLite holds only a
    /// raw pointer to it.
    private var rowObserver: RowObserver?
    /// The database file path.
    public let path: String

    /// Opens (creating if needed) the database at `path`.
    /// - Parameters:
    ///   - busyTimeoutMilliseconds: how long a statement waits for another connection's lock.
    ///   - statementCacheCapacity: the most prepared statements `prepare(_:)` keeps for reuse;
    ///     the least recently used one is dropped to make room.
    public init(
        path: String, busyTimeoutMilliseconds: Int32 = 5000, statementCacheCapacity: Int = Connection.defaultStatementCacheCapacity
    ) throws(SQLiteError) {
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
        self.cache = StatementCache(capacity: statementCacheCapacity)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        self.cache.removeAll()
        // The observer box goes with this object; SQLite must not call into it afterwards.
        if self.rowObserver != nil { sqlite3_update_hook(self.handle, nil, nil) }
        // close_v2, not close: if a caller still holds a statement, the connection becomes a
        // zombie that SQLite closes when that statement is finalized, instead of SQLITE_BUSY.
        sqlite3_close_v2(self.handle)
    }

    /// Calls `observer` with the rowid of every row of `table` (in the main database) that an
    /// INSERT, UPDATE or DELETE on this connection changes, while the statement runs: before
    /// the transaction commits, and also for changes a rollback later undoes. Replaces any
    /// earlier observer.
    ///
    /// What SQLite's update hook (which this is) does not report, so a table observed must not
    /// rely on it: rows of WITHOUT ROWID tables, rows deleted by `ON CONFLICT REPLACE`, and a
    /// `DELETE` without `WHERE` (the truncate optimisation).
    public func observeRowChanges(of table: String, _ observer: @escaping (Int64) -> Void) {
        let box = RowObserver(table: table, observer: observer)
        self.rowObserver = box
        // Why an unretained pointer: SQLite keeps it only until the hook is replaced or the
        // connection closes, and `rowObserver` keeps the box alive exactly that long.
        sqlite3_update_hook(
            self.handle,
            { context, _, database, table, rowid in
                guard let context, let database, let table else { return }
                let box = Unmanaged<RowObserver>.fromOpaque(context).takeUnretainedValue()
                // Names compared as bytes (strcmp): "main" is the database the store uses.
                guard strcmp(database, "main") == 0, strcmp(box.table, table) == 0 else { return }
                box.observer(rowid)
            }, Unmanaged.passUnretained(box).toOpaque())
    }

    /// How many prepared statements the cache holds now (at most `statementCacheCapacity`).
    public var cachedStatementCount: Int { self.cache.count }

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

    /// A prepared statement for `sql`.
    ///
    /// With `cached` (the default) the statement is kept for reuse by later calls with the same
    /// text, in a cache of at most `statementCacheCapacity` statements: the least recently used
    /// one is dropped to make room, and is finalized once no caller holds it. Pass
    /// `cached: false` for SQL built at run time whose text rarely repeats (a placeholder per list
    /// element, optional filters): such a statement is finalized as soon as it is released and
    /// does not push the fixed statements out of the cache.
    ///
    /// A statement is not reentrant: run it to completion (`rows()` does, and resets it) before
    /// preparing the same text again.
    public func prepare(_ sql: String, cached: Bool = true) throws(SQLiteError) -> Statement {
        if cached, let statement = self.cache.statement(for: sql) { return statement }
        var statement: OpaquePointer? = nil
        // PERSISTENT: the statement is kept and reused, so SQLite leaves the connection's small
        // lookaside memory pool (which long-lived statements would deplete) to short-lived ones.
        let flags = cached ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sqlite3_prepare_v3(self.handle, sql, -1, flags, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw self.error(rc, sql: sql) }
        let prepared = Statement(connection: self, handle: statement, sql: sql)
        if cached { self.cache.insert(prepared) }
        return prepared
    }

    /// Runs a statement with arguments and returns its rows.
    /// - Parameter cached: whether to keep the prepared statement for reuse; see `prepare(_:cached:)`.
    @discardableResult
    public func query(_ sql: String, _ arguments: [SQLValue] = [], cached: Bool = true) throws(SQLiteError) -> [Row] {
        let statement = try self.prepare(sql, cached: cached)
        try statement.bind(arguments)
        return try statement.rows()
    }

    /// Runs a statement with arguments, ignoring rows.
    /// - Parameter cached: whether to keep the prepared statement for reuse; see `prepare(_:cached:)`.
    public func run(_ sql: String, _ arguments: [SQLValue] = [], cached: Bool = true) throws(SQLiteError) {
        try self.query(sql, arguments, cached: cached)
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
    ///
    /// The three statements are prepared once and kept in the statement cache: `sqlite3_exec`
    /// parsed them again for every transaction (2 % of the CPU of a profile under trigger load).
    public func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try self.run(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let value = try body()
            try self.run("COMMIT")
            return value
        } catch {
            // After some errors (SQLITE_FULL, an I/O error) SQLite has already rolled back, and
            // this ROLLBACK fails harmlessly with "no transaction is active".
            try? self.run("ROLLBACK")
            throw error
        }
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(self.handle), message: String(cString: sqlite3_errmsg(self.handle)), sql: sql)
    }
}

/// The table and closure behind `Connection.observeRowChanges`.
private final class RowObserver {
    /// The table's name as a NUL-terminated C string, compared with what SQLite passes.
    let table: [CChar]
    let observer: (Int64) -> Void
    init(table: String, observer: @escaping (Int64) -> Void) {
        self.table = Array(table.utf8CString)
        self.observer = observer
    }
}
