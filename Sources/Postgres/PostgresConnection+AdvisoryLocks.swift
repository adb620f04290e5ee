extension PostgresConnection {
    /// Runs `body` holding the session advisory lock `key` (`pg_advisory_lock`), and releases it
    /// (`pg_advisory_unlock`) afterwards, also when `body` throws.
    ///
    /// Waits as long as another session holds the lock (subject to this session's
    /// `lock_timeout`). Migrations take one so that two hosts starting at once do not both
    /// migrate. A session lock outlives transactions, including a rollback inside `body`, and
    /// the server releases it when the connection ends, so a crashed holder never leaves it
    /// taken. Locks nest: taking the same key twice needs two unlocks, which this does.
    /// - Throws: what `body` throws, or `PostgresError` from taking or releasing the lock.
    public func withAdvisoryLock<T>(key: Int64, _ body: () throws -> T) throws -> T {
        try self.execute("SELECT pg_advisory_lock($1)", [.int64(key)])
        let value: T
        do {
            value = try body()
        } catch {
            // A broken connection has released the lock with the session.
            if self.status == .ok { _ = try? self.execute("SELECT pg_advisory_unlock($1)", [.int64(key)]) }
            throw error
        }
        let released = try self.execute("SELECT pg_advisory_unlock($1)", [.int64(key)])
        guard try released.first?.bool(0) == true else {
            throw PostgresError(kind: .query, message: "advisory lock \(key) was not held at the end of its body")
        }
        return value
    }
}
