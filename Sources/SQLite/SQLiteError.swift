/// An error reported by SQLite. Bound arguments are never part of the description.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (e.g. 2067 for SQLITE_CONSTRAINT_UNIQUE).
    public let code: Int32
    /// SQLite's message.
    public let message: String
    /// The statement's SQL text, if the error belongs to one.
    public let sql: String?

    /// Creates an error.
    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (the low 8 bits of the extended code).
    public var primaryCode: Int32 { self.code & 0xff }

    /// Whether the error is a constraint violation (UNIQUE, CHECK, FOREIGN KEY, ...).
    public var isConstraintViolation: Bool { self.primaryCode == 19 }

    /// Whether the database was busy or locked past the busy timeout.
    public var isBusy: Bool { self.primaryCode == 5 || self.primaryCode == 6 }

    public var description: String {
        var text = "SQLite error \(self.code): \(self.message)"
        if let sql { text += " — in \(sql)" }
        return text
    }
}
