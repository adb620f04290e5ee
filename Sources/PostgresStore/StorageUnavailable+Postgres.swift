import JobStore
import Postgres

extension StorageUnavailable {
    /// The `StorageUnavailable` a PostgreSQL error stands for, or nil if it is no "cannot right
    /// now" (a constraint violation, a syntax error, a bug: those stay what they are).
    ///
    /// - `.io` (the server cannot be reached or stopped serving us): a broken or refused
    ///   connection (kind `.connection`: lost socket, server down, `pg_terminate_backend`),
    ///   class 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown, class 58
    ///   (system error: I/O error, undefined file), 25006 read-only transaction (a standby, or
    ///   `default_transaction_read_only` after a failover: nothing can be written).
    /// - `.full`: 53100 disk full.
    /// - `.busy` (trying again shortly may work): 53300 too many connections (at connect time
    ///   libpq reports it only in its message, "sorry, too many clients already"), 57P03
    ///   cannot connect now (starting up), 53000/53200/53400 other insufficient resources,
    ///   55P03 lock not available (`lock_timeout`), 57014 query cancelled (`statement_timeout`),
    ///   and 40001/40P01 when they outlast the transaction's retries.
    init?(classifying error: PostgresError) {
        let state = error.sqlState ?? ""
        switch state {
        case "53100": self.init(.full, detail: error.message)
        case "53300", "57P03", "53000", "53200", "53400", "55P03", "57014", "40001", "40P01":
            self.init(.busy, detail: error.message)
        case "57P01", "57P02", "25006": self.init(.io, detail: error.message)
        case _ where state.hasPrefix("08") || state.hasPrefix("58"): self.init(.io, detail: error.message)
        default:
            guard error.kind == .connection else { return nil }
            let busy =
                error.message.contains("too many clients") || error.message.contains("too many connections")
                || error.message.contains("starting up")
            self.init(busy ? .busy : .io, detail: error.message)
        }
    }
}
