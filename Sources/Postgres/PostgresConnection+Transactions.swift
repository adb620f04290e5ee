internal import CPostgres

#if canImport(Glibc)
    internal import Glibc
#endif

extension PostgresConnection {
    /// Runs `body` in a transaction (`BEGIN ISOLATION LEVEL ...`): commits if it returns, rolls
    /// back if it throws.
    ///
    /// If a statement inside `body` failed and `body` caught the error and returned anyway, the
    /// transaction is rolled back and an error thrown: the server would answer `COMMIT` in a
    /// failed transaction with a silent rollback, and the writes would be lost without a word.
    ///
    /// - Parameters:
    ///   - isolation: the isolation level; READ COMMITTED by default.
    ///   - body: the work; it must not end the transaction itself.
    /// - Throws: what `body` throws; `PostgresError` from `BEGIN` or `COMMIT` (a serializable
    ///   transaction may fail at `COMMIT` with 40001); `.invalidArgument` if a transaction is
    ///   already open on this connection (PostgreSQL has no nested transactions: the inner
    ///   `BEGIN` would only warn, and the inner `COMMIT` would commit the outer one).
    public func transaction<T>(isolation: PostgresIsolationLevel = .readCommitted, _ body: () throws -> T) throws -> T {
        _ = try self.openHandle(sql: nil)
        guard self.isIdle else {
            throw PostgresError(kind: .invalidArgument, message: "a transaction is already open on this connection")
        }
        try self.execute("BEGIN ISOLATION LEVEL \(isolation.sql)")
        let value: T
        do {
            value = try body()
        } catch {
            self.rollBack()
            throw error
        }
        switch self.handle.map(PQtransactionStatus) {
        case PQTRANS_INTRANS:
            try self.execute("COMMIT")
            return value
        case PQTRANS_INERROR:
            self.rollBack()
            throw PostgresError(
                kind: .query, message: "a statement in the transaction failed and its error was not thrown; rolled back")
        case PQTRANS_IDLE:
            throw PostgresError(kind: .invalidArgument, message: "the transaction was ended inside its body")
        default:
            // Closed or broken inside the body (PQTRANS_UNKNOWN), or busy (PQTRANS_ACTIVE,
            // which a synchronous caller cannot leave it in).
            throw self.connectionError(sql: nil)
        }
    }

    /// Runs `body` in a transaction as `transaction(isolation:_:)` does, and runs it again while
    /// it fails with a serialization failure (40001) or a deadlock (40P01), after a short random
    /// pause that grows with each attempt (up to 2, 4, 8, ... ms, at most 100 ms).
    ///
    /// `body` may therefore run several times: it must do nothing outside the transaction that
    /// cannot be repeated, and must throw (not swallow) the `PostgresError`s of its statements.
    /// - Parameters:
    ///   - isolation: SERIALIZABLE by default.
    ///   - maxAttempts: how many times to try in all (at least 1).
    /// - Throws: the last attempt's error, or the first error that is not a serialization failure.
    public func retryingTransaction<T>(
        isolation: PostgresIsolationLevel = .serializable, maxAttempts: Int = 5, _ body: () throws -> T
    ) throws -> T {
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        var attempt = 1
        while true {
            do {
                return try self.transaction(isolation: isolation, body)
            } catch let error as PostgresError where error.isSerializationFailure && attempt < maxAttempts {
                // Random, so that the transactions that collided do not collide again in step.
                let limit = UInt32(min(100_000, 1_000 << min(attempt, 7)))
                usleep(UInt32.random(in: 0...limit))
                attempt += 1
            }
        }
    }

    /// Rolls back after a failure; a broken connection has no transaction left to roll back.
    private func rollBack() {
        guard self.status == .ok else { return }
        _ = try? self.execute("ROLLBACK")
    }
}
