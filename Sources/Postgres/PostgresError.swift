/// An error from PostgreSQL, from libpq, or from this wrapper's own checks.
///
/// This wrapper never puts a parameter value or a password into an error, but the server's texts
/// may quote values: a unique violation's `detail` names the duplicate key, and a parse error's
/// `message` quotes the input (`invalid input syntax for type bigint: "x"`). `detail` is left
/// out of `description`, which is what ends up in logs.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in the terms a caller acts on.
    public enum Kind: Sendable, Hashable {
        /// No connection could be made, or the connection is broken (libpq's `PQstatus` is
        /// `CONNECTION_BAD`: the server ended the session, the socket failed, or the connection
        /// was closed). Nothing more can be done on it; open a new one or call `reset()`.
        case connection
        /// The server refused the statement (a syntax error, a constraint violation, a
        /// serialization failure, ...) and the connection is still usable. `sqlState` says which.
        case query
        /// A result column was read as a type it does not have, does not exist, or holds text
        /// that does not parse as that type. Nothing went to the server.
        case result
        /// The call was refused before anything was sent: an invalid identifier or channel name,
        /// text with a NUL character, a transaction begun inside another.
        case invalidArgument
    }

    /// What went wrong.
    public let kind: Kind
    /// The five-character SQLSTATE the server reported (`PG_DIAG_SQLSTATE`), e.g. "23505" for a
    /// unique violation; nil for errors that did not come from the server (libpq's own, such as
    /// a refused connection, and this wrapper's).
    public let sqlState: String?
    /// The primary message (`PG_DIAG_MESSAGE_PRIMARY`), or libpq's or this wrapper's message.
    public let message: String
    /// The server's detail message (`PG_DIAG_MESSAGE_DETAIL`), if any. For a unique violation
    /// it names the key and its value ("Key (name)=(x) already exists."), so it may hold data.
    public let detail: String?
    /// The constraint the error concerns (`PG_DIAG_CONSTRAINT_NAME`), if any.
    public let constraint: String?
    /// The statement's SQL text, if the error belongs to one.
    public let sql: String?

    /// Creates an error.
    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, constraint: String? = nil, sql: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
        self.sql = sql
    }

    /// Whether the connection is gone (`kind == .connection`).
    public var isConnectionError: Bool { self.kind == .connection }

    /// Whether the error is a unique violation (SQLSTATE 23505).
    public var isUniqueViolation: Bool { self.sqlState == "23505" }

    /// Whether the error is an integrity constraint violation (SQLSTATE class 23: unique,
    /// foreign key, check, not null, exclusion).
    public var isConstraintViolation: Bool { self.sqlState?.hasPrefix("23") == true }

    /// Whether running the whole transaction again may succeed: a serialization failure (40001)
    /// or a detected deadlock (40P01). The transaction has been rolled back by the server.
    public var isSerializationFailure: Bool { self.sqlState == "40001" || self.sqlState == "40P01" }

    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        text += " (\(self.kind)): \(self.message)"
        if let sql { text += " — in \(sql)" }
        return text
    }
}
