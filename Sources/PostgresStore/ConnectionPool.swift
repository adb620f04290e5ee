import Dispatch
import JobStore
import Locking
import Postgres

/// A small thread-safe pool of PostgreSQL connections: at most `size` are open and lent out at
/// once, each to one thread at a time (a `PostgresConnection` must not be shared).
///
/// Connections are made when first needed, and set up by `setup` (session settings) before
/// first use. One that comes back broken (`status != .ok`: the server ended the session, the
/// socket failed) is closed and forgotten, so the next borrower gets a fresh one; session
/// settings are thus never lost the way a `reset()` would lose them.
final class ConnectionPool: Sendable {
    private let connection: String
    private let password: String?
    /// libpq parameters the connection string may override (`PostgresConnection.init`).
    private let defaults: [(String, String)]
    private let size: Int
    /// How long `withConnection` waits for a free connection before giving up.
    private let waitMilliseconds: Int
    private let setup: @Sendable (PostgresConnection) throws -> Void
    /// One permit per connection that may be lent out: taken with a deadline, so that a burst
    /// of callers beyond `size` waits a bounded time and then reports `StorageUnavailable(.busy)`.
    private let permits: DispatchSemaphore
    /// Open connections not lent out.
    private let idle = Locked<[PostgresConnection]>([])

    /// Creates an empty pool; nothing is connected yet.
    /// - Parameters:
    ///   - connection: the libpq connection string.
    ///   - password: the password, passed apart from the string (see `PostgresConnection.init`).
    ///   - defaults: libpq parameters the string may override (see `PostgresConnection.init`).
    ///   - size: the most connections open at once (at least 1).
    ///   - waitMilliseconds: how long a caller waits for a free connection.
    ///   - setup: run on every new connection before it is lent out.
    init(
        connection: String, password: String?, defaults: [(String, String)] = [], size: Int, waitMilliseconds: Int,
        setup: @escaping @Sendable (PostgresConnection) throws -> Void
    ) {
        self.connection = connection
        self.password = password
        self.defaults = defaults
        self.size = max(1, size)
        self.waitMilliseconds = waitMilliseconds
        self.setup = setup
        self.permits = DispatchSemaphore(value: max(1, size))
    }

    /// Makes a new connection and sets it up.
    func connect() throws -> PostgresConnection {
        let connection = try PostgresConnection(self.connection, password: self.password, defaults: self.defaults)
        try self.setup(connection)
        return connection
    }

    /// Runs `body` with a connection of its own, and takes the connection back afterwards
    /// (closing it if it broke).
    /// - Throws: `StorageUnavailable(.busy)` if no connection became free in time; what
    ///   connecting throws (`PostgresError`); what `body` throws.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard self.permits.wait(timeout: .now() + .milliseconds(self.waitMilliseconds)) == .success else {
            throw StorageUnavailable(
                .busy, detail: "all \(self.size) PostgreSQL connections stayed in use for more than \(self.waitMilliseconds) ms")
        }
        defer { self.permits.signal() }
        let connection = try self.idle.withLock { $0.popLast() } ?? self.connect()
        defer {
            if connection.status == .ok {
                self.idle.withLock { $0.append(connection) }
            } else {
                connection.close()
            }
        }
        return try body(connection)
    }

    /// Closes every idle connection (those lent out are closed when they come back broken, or
    /// when the pool goes away).
    func closeIdle() {
        let connections = self.idle.withLock { idle in
            let all = idle
            idle.removeAll()
            return all
        }
        for connection in connections { connection.close() }
    }
}
