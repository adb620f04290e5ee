internal import CPostgres

#if canImport(Glibc)
    internal import Glibc
#endif

/// A connection to a PostgreSQL server through libpq.
///
/// Confinement: libpq lets different threads use different connections, but one connection
/// (its socket, its pending results, its queued notifications) must be used by one thread at a
/// time. Callers guard it as they guard an SQLite `Connection`: inside a `Locked`, or lent to
/// one thread at a time from a pool. `@unchecked Sendable` only so that such a guard can hold it.
///
/// Every statement is sent with its parameters apart from the SQL text (`execute(_:_:)`); the
/// only SQL this wrapper builds itself is `LISTEN`/`UNLISTEN` with a checked, quoted channel
/// name (`PostgresIdentifier`) and the fixed transaction commands.
///
/// Server notices (`NOTICE: relation "t" already exists, skipping` from
/// `CREATE TABLE IF NOT EXISTS`, warnings) are discarded; see `init`.
public final class PostgresConnection: @unchecked Sendable {
    /// Whether the connection can be used.
    public enum Status: Sendable, Hashable {
        /// Connected, as far as libpq knows: it notices a broken connection only when a call
        /// reads or writes the socket.
        case ok
        /// Broken (`CONNECTION_BAD`): the server ended the session or the socket failed. Every
        /// call throws a `.connection` error until `reset()` succeeds.
        case bad
        /// Closed by `close()`.
        case closed
    }

    /// The libpq connection; nil once closed.
    private(set) var handle: OpaquePointer?

    /// Connects, waiting until the connection is made or refused.
    ///
    /// - Parameters:
    ///   - connection: a libpq connection string, either `key=value` pairs
    ///     (`host=/run/sluice-pg port=5432 dbname=sluice user=sluice`) or a URL
    ///     (`postgresql://sluice@db.example/sluice?sslmode=verify-full`); libpq's environment
    ///     variables (`PGHOST`, ...) and `~/.pgpass` fill in what it leaves out.
    ///   - password: the password, if it does not come from the connection string, `PGPASSWORD`
    ///     or a password file. Passed to libpq as its own `password` parameter, never spliced
    ///     into the string, so a password read from a file needs no URL or conninfo quoting. It
    ///     wins over a password in `connection`.
    ///   - defaults: libpq keywords and values that apply unless `connection` sets them (for
    ///     example `PostgresConnection.networkTimeouts(seconds:)`).
    /// - Throws: `PostgresError` of kind `.connection` with libpq's message (which never
    ///   contains the password) if the server cannot be reached or refuses the login;
    ///   `.invalidArgument` if an argument contains a NUL character.
    public init(_ connection: String, password: String? = nil, defaults: [(String, String)] = []) throws(PostgresError) {
        // Later parameters override what the expanded connection string says (libpq processes
        // the arrays in order, and expands only the first `dbname`); `defaults` come before it,
        // so the string overrides them.
        var parameters: [(String, String)] =
            defaults + [
                // With expand_dbname, a `dbname` value holding `=` or starting with postgres(ql)://
                // is parsed as a whole connection string; anything else is a database name.
                ("dbname", connection),
                // Text in and out as UTF-8 whatever the database's encoding, the server's locale or
                // PGCLIENTENCODING say: Swift strings are UTF-8.
                ("client_encoding", "UTF8"),
                ("fallback_application_name", "sluice"),
            ]
        if let password { parameters.append(("password", password)) }
        for (keyword, value) in parameters where value.utf8.contains(0) {
            throw PostgresError(kind: .invalidArgument, message: "the connection's \(keyword) contains a NUL character")
        }
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            for pointer in keywords + values { free(pointer) }
        }
        let handle = PQconnectdbParams(
            keywords.map { UnsafePointer($0) } + [nil], values.map { UnsafePointer($0) } + [nil], 1)
        guard let handle else { throw PostgresError(kind: .connection, message: "libpq could not allocate a connection") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: message)
        }
        // libpq's default notice processor prints every NOTICE and WARNING to stderr, which in
        // Sluice is the JSON-lines log: a raw line there would break it, and the notices this
        // code gets are expected ones (`IF NOT EXISTS ... skipping`, ROLLBACK outside a
        // transaction). Errors still arrive as errors. The processor stays through `reset()`;
        // notices during the connection start itself (the server sends none in practice) would
        // still reach the default one.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        self.handle = handle
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// libpq parameters that make a connection over TCP notice a silent network within about
    /// `seconds` instead of the system's TCP timeouts (minutes to a quarter of an hour): while
    /// a statement's bytes stay unacknowledged (`tcp_user_timeout`), while a connection that
    /// waits for an answer hears nothing (keepalive probes after `seconds` idle, then every
    /// second, the connection given up `tcp_user_timeout` after the first unanswered probe), and
    /// while connecting (`connect_timeout`, which libpq rounds up to 2 s). A call blocked on a
    /// partitioned server then fails with a connection error instead of hanging. Ignored on
    /// unix sockets.
    /// - Parameter seconds: the time to notice, at least 1.
    public static func networkTimeouts(seconds: Int) -> [(String, String)] {
        let seconds = max(1, seconds)
        return [
            ("connect_timeout", "\(max(2, seconds))"),
            ("keepalives", "1"),
            ("keepalives_idle", "\(seconds)"),
            ("keepalives_interval", "1"),
            ("keepalives_count", "\(seconds)"),
            ("tcp_user_timeout", "\(seconds * 1000)"),
        ]
    }

    /// Closes the connection (`PQfinish`). Any later call throws a `.connection` error;
    /// closing twice does nothing.
    public func close() {
        guard let handle else { return }
        PQfinish(handle)
        self.handle = nil
    }

    /// Whether the connection can be used.
    public var status: Status {
        guard let handle else { return .closed }
        return PQstatus(handle) == CONNECTION_OK ? .ok : .bad
    }

    /// The process id of the server process serving this connection (`PQbackendPID`): what
    /// `pg_stat_activity.pid`, `pg_terminate_backend` and `PostgresNotification.processID` use.
    /// 0 once closed.
    public var backendProcessID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Makes the connection again with the same parameters (`PQreset`), for a connection whose
    /// `status` is `.bad`. Session state (listened channels, advisory locks, settings) is gone.
    /// - Throws: `PostgresError` of kind `.connection` if it fails or the connection was closed.
    public func reset() throws(PostgresError) {
        guard let handle else { throw PostgresError(kind: .connection, message: "the connection is closed") }
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
        }
    }

    /// Runs one statement with parameters `$1`, `$2`, ... (`PQexecParams`), and returns its rows.
    ///
    /// The values travel apart from the SQL text, so no value can change the statement. Only one
    /// statement per call (the extended protocol refuses several); see `executeScript(_:)`.
    ///
    /// - Parameters:
    ///   - sql: the statement.
    ///   - parameters: the values of `$1`, `$2`, ...; nil is SQL NULL. At most 65,535.
    /// - Throws: `PostgresError`: `.query` with the server's SQLSTATE if the statement fails;
    ///   `.connection` if the connection is broken or breaks; `.invalidArgument`, before anything
    ///   is sent, for text containing U+0000 (libpq passes text parameters as C strings, so a NUL
    ///   would silently cut the value short; PostgreSQL text cannot hold one anyway) or too many
    ///   parameters.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue?] = []) throws(PostgresError) -> PostgresResult {
        let handle = try self.openHandle(sql: sql)
        try Self.refuseNUL(in: sql, what: "the SQL text", sql: sql)
        guard parameters.count <= 65_535 else {
            throw PostgresError(kind: .invalidArgument, message: "\(parameters.count) parameters; at most 65535", sql: sql)
        }
        // Every value's text with a terminating NUL, in one buffer; `offsets` finds each (-1: NULL).
        var buffer: [UInt8] = []
        var offsets: [Int] = []
        var types: [UInt32] = []
        offsets.reserveCapacity(parameters.count)
        types.reserveCapacity(parameters.count)
        for (i, parameter) in parameters.enumerated() {
            guard let parameter else {
                offsets.append(-1)
                types.append(0)
                continue
            }
            if case .text(let text) = parameter, text.utf8.contains(0) {
                throw PostgresError(
                    kind: .invalidArgument, message: "parameter $\(i + 1) contains a NUL character, which PostgreSQL text cannot hold",
                    sql: sql)
            }
            offsets.append(buffer.count)
            types.append(parameter.typeOID)
            parameter.appendText(to: &buffer)
            buffer.append(0)
        }
        let result = buffer.withUnsafeBufferPointer { bytes in
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard offset >= 0, let base = bytes.baseAddress else { return nil }
                return UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
            }
            // Lengths and formats NULL: every parameter is text (NUL-terminated), and so are the
            // results (resultFormat 0).
            return PQexecParams(handle, sql, Int32(parameters.count), types, values, nil, nil, 0)
        }
        return try self.take(result, sql: sql)
    }

    /// Runs a script of one or more statements without parameters (`PQexec`), for schema
    /// migrations. Rows are discarded.
    ///
    /// Unless the script holds its own `BEGIN`/`COMMIT`, the server runs all its statements as
    /// one transaction (the simple query protocol's rule): if one fails, none has happened.
    /// Statements that refuse to run in a transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`)
    /// need a script of their own.
    /// - Throws: `PostgresError` as `execute(_:_:)` does, for the first statement that fails.
    public func executeScript(_ script: String) throws(PostgresError) {
        let handle = try self.openHandle(sql: script)
        try Self.refuseNUL(in: script, what: "the script", sql: script)
        // PQexec returns only the last statement's result; it stops at the first error and
        // returns that.
        _ = try self.take(PQexec(handle, script), sql: script)
    }

    /// Whether the connection is outside any transaction block (`PQTRANS_IDLE`).
    var isIdle: Bool {
        guard let handle else { return false }
        return PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// The libpq connection, or a `.connection` error if it is closed or broken.
    func openHandle(sql: String?) throws(PostgresError) -> OpaquePointer {
        guard let handle else { throw PostgresError(kind: .connection, message: "the connection is closed", sql: sql) }
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(kind: .connection, message: "the connection is broken: \(Self.trimmed(PQerrorMessage(handle)))", sql: sql)
        }
        return handle
    }

    /// The error for a failed call that returned no result, or made the connection bad.
    func connectionError(sql: String?) -> PostgresError {
        guard let handle else { return PostgresError(kind: .connection, message: "the connection is closed", sql: sql) }
        let kind: PostgresError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connection
        return PostgresError(kind: kind, message: Self.trimmed(PQerrorMessage(handle)), sql: sql)
    }

    /// Copies `result` out and clears it; throws its error if it is one.
    private func take(_ result: OpaquePointer?, sql: String) throws(PostgresError) -> PostgresResult {
        // NULL: out of memory, or the statement could not be sent.
        guard let result else { throw self.connectionError(sql: sql) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.copy(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            self.abandonCopy(result)
            throw PostgresError(kind: .invalidArgument, message: "COPY is not supported", sql: sql)
        default:
            throw self.error(from: result, sql: sql)
        }
    }

    /// The error a failed result reports.
    private func error(from result: OpaquePointer, sql: String) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        // The connection's state, not the SQLSTATE, says whether it is gone. After
        // pg_terminate_backend the next statement fails with libpq's own "server closed the
        // connection unexpectedly", which has no SQLSTATE: the server's FATAL 57P01 that came
        // before it shows only in the connection's error message.
        let broken = self.handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        let message: String
        if let primary = field(cpostgres_diag_message_primary()) {
            message = primary
        } else if broken, let handle = self.handle {
            // libpq's own errors have no fields; the connection's message has the whole story.
            message = Self.trimmed(PQerrorMessage(handle))
        } else {
            message = Self.trimmed(PQresultErrorMessage(result))
        }
        return PostgresError(
            kind: broken ? .connection : .query, sqlState: field(cpostgres_diag_sqlstate()), message: message,
            detail: field(cpostgres_diag_message_detail()), constraint: field(cpostgres_diag_constraint_name()), sql: sql)
    }

    /// Ends a COPY that a statement started, so the connection is usable again: this wrapper
    /// has no COPY API, and libpq would otherwise stay in the COPY state.
    private func abandonCopy(_ result: OpaquePointer) {
        guard let handle else { return }
        if PQresultStatus(result) == PGRES_COPY_IN {
            _ = PQputCopyEnd(handle, "COPY is not supported")
        } else {
            var data: UnsafeMutablePointer<CChar>? = nil
            while PQgetCopyData(handle, &data, 0) > 0 {
                PQfreemem(data)
                data = nil
            }
        }
        while let next = PQgetResult(handle) { PQclear(next) }
    }

    /// Copies names, types and every cell's text out of `result`.
    private static func copy(_ result: OpaquePointer) -> PostgresResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { PQftype(result, Int32($0)) }
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount { total += Int(PQgetlength(result, Int32(row), Int32(column))) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        var starts: [Int] = []
        var lengths: [Int32] = []
        starts.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                starts.append(bytes.count)
                // A NULL's value is an empty string, not a null pointer: ask PQgetisnull.
                guard PQgetisnull(result, row, column) == 0 else {
                    lengths.append(-1)
                    continue
                }
                let length = PQgetlength(result, row, column)
                lengths.append(length)
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: Int(length)))
            }
        }
        // PQcmdTuples is "" for commands without a row count.
        let affected = Int(String(cString: PQcmdTuples(result)))
        let storage = ResultStorage(
            columnNames: names, columnTypes: types, rowCount: rowCount, bytes: bytes, starts: starts, lengths: lengths)
        return PostgresResult(storage: storage, affectedRows: affected)
    }

    private static func refuseNUL(in text: String, what: String, sql: String) throws(PostgresError) {
        // libpq takes SQL as a C string: a NUL would end it early, and the rest would be dropped.
        guard !text.utf8.contains(0) else {
            throw PostgresError(kind: .invalidArgument, message: "\(what) contains a NUL character", sql: sql)
        }
    }

    /// libpq's message without its trailing newline.
    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown libpq error" }
        var text = Substring(String(cString: message))
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text.isEmpty ? "unknown libpq error" : String(text)
    }
}
