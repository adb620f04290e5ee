internal import CSQLite

/// A prepared statement. Owned by one connection and confined to its thread.
///
/// Finalized when the last reference goes away: the connection's statement cache and any caller
/// of `Connection.prepare(_:cached:)`. Eviction from the cache therefore never finalizes a
/// statement that a caller is still using.
public final class Statement {
    private let handle: OpaquePointer
    private unowned let connection: Connection
    /// The SQL text.
    public let sql: String
    /// The result's column names, kept from the first step: the names of a prepared statement's
    /// result only change with the schema, and Sluice migrates before it prepares anything
    /// else. A different column count rebuilds them anyway.
    private var columnNames: ColumnNames?

    init(connection: Connection, handle: OpaquePointer, sql: String) {
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(self.handle) }

    /// Binds positional arguments (`?1`, `?2`, ...), replacing earlier bindings.
    public func bind(_ values: [SQLValue]) throws(SQLiteError) {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
        // A count mismatch is a programming error (GRDB treats it the same way).
        precondition(
            Int(sqlite3_bind_parameter_count(self.handle)) == values.count,
            "statement expects \(sqlite3_bind_parameter_count(self.handle)) arguments, got \(values.count): \(self.sql)")
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(self.handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(self.handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(self.handle, index, v)
            case .text(let v):
                // SQLITE_TRANSIENT: SQLite copies the bytes before returning, so Swift's temporary
                // C string may go away afterwards.
                // Pass the byte count, not -1: with -1 SQLite stops at the first NUL and would
                // silently truncate text that contains one.
                // The trailing 0 keeps the buffer non-empty: a NULL pointer would bind SQL NULL.
                let length = Int32(v.utf8.count)
                rc = (Array(v.utf8) + [0]).withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) {
                        sqlite3_bind_text(self.handle, index, $0.baseAddress, length, csqlite_transient())
                    }
                }
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(self.handle, index, $0.baseAddress, Int32($0.count), csqlite_transient()) }
            }
            guard rc == SQLITE_OK else { throw self.connection.error(rc, sql: self.sql) }
        }
    }

    /// Runs the statement to completion and returns every row.
    public func rows() throws(SQLiteError) -> [Row] {
        defer { sqlite3_reset(self.handle) }
        var result: [Row] = []
        var columns: ColumnNames? = nil
        while true {
            let rc = sqlite3_step(self.handle)
            if rc == SQLITE_DONE { return result }
            guard rc == SQLITE_ROW else { throw self.connection.error(rc, sql: self.sql) }
            let count = sqlite3_column_count(self.handle)
            if columns == nil {
                if let cached = self.columnNames, cached.names.count == Int(count) {
                    columns = cached
                } else {
                    columns = ColumnNames((0..<count).map { String(cString: sqlite3_column_name(self.handle, $0)) })
                    self.columnNames = columns
                }
            }
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for i in 0..<count {
                switch sqlite3_column_type(self.handle, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(self.handle, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(self.handle, i)))
                case SQLITE_TEXT:
                    let n = Int(sqlite3_column_bytes(self.handle, i))
                    let p = sqlite3_column_text(self.handle, i)!
                    values.append(.text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)))
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(self.handle, i))
                    let p = sqlite3_column_blob(self.handle, i)
                    values.append(.blob(n == 0 ? [] : Array(UnsafeRawBufferPointer(start: p, count: n))))
                default: values.append(.null)
                }
            }
            result.append(Row(values: values, names: columns!))
        }
    }
}
