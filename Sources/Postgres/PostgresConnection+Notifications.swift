internal import CPostgres
internal import SystemCalls

#if canImport(Glibc)
    internal import Glibc
#endif

extension PostgresConnection {
    /// Starts listening on `channel` (`LISTEN`). Notifications sent on it from then on are
    /// queued for `waitForNotifications(timeout:)`. Inside a transaction, takes effect at commit.
    /// - Throws: `PostgresError`: `.invalidArgument` before anything is sent if `channel` is not
    ///   a valid name (see `PostgresIdentifier`: LISTEN takes an identifier, which no parameter
    ///   can stand for, so the name is checked and quoted instead).
    public func listen(_ channel: String) throws(PostgresError) {
        try self.execute("LISTEN " + PostgresIdentifier.quoted(channel))
    }

    /// Stops listening on `channel` (`UNLISTEN`).
    /// - Throws: `PostgresError`, as `listen(_:)`.
    public func unlisten(_ channel: String) throws(PostgresError) {
        try self.execute("UNLISTEN " + PostgresIdentifier.quoted(channel))
    }

    /// Sends a notification (`SELECT pg_notify($1, $2)`, both as parameters). Inside a
    /// transaction it is delivered at commit, and not at all on rollback.
    /// - Parameters:
    ///   - channel: the channel, checked as `listen(_:)` checks it so that the two agree.
    ///   - payload: at most 7999 bytes (the server refuses longer ones), no NUL.
    /// - Throws: `PostgresError`.
    public func notify(_ channel: String, payload: String = "") throws(PostgresError) {
        try PostgresIdentifier.check(channel)
        try self.execute("SELECT pg_notify($1, $2)", [.text(channel), .text(payload)])
    }

    /// Waits until at least one notification has arrived, or `timeout` has passed, and returns
    /// every notification received so far (none if the time ran out).
    ///
    /// Notifications that arrived while other statements ran are returned at once. Otherwise
    /// this waits in poll(2) on the connection's socket (`PQsocket`), reads what arrives
    /// (`PQconsumeInput`) and takes the complete notifications (`PQnotifies`), until one is
    /// there or the time is up. Notifications reach a connection only between its transactions:
    /// call this outside one.
    /// - Throws: `PostgresError` of kind `.connection` if the connection is closed or breaks
    ///   while waiting.
    public func waitForNotifications(timeout: Duration) throws(PostgresError) -> [PostgresNotification] {
        let handle = try self.openHandle(sql: nil)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: max(timeout, .zero))
        // Read whatever is already in the socket first: poll(2) would not report data that an
        // earlier call already moved into libpq's buffer, and a queued notification must not
        // wait for the next one.
        guard PQconsumeInput(handle) == 1 else { throw self.connectionError(sql: nil) }
        var notifications = Self.takeNotifications(handle)
        while notifications.isEmpty {
            let socket = PQsocket(handle)
            guard socket >= 0 else { throw self.connectionError(sql: nil) }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready: Int32
            do {
                // The remaining time is worked out again on every try, so an interrupted poll
                // (EINTR, retried by `syscall`) does not stretch the wait.
                ready = try syscall(where: "poll") { poll(&descriptor, 1, Self.milliseconds(until: deadline, clock: clock)) }
            } catch {
                throw PostgresError(kind: .connection, message: "waiting for notifications: \(error)")
            }
            if ready == 0 { break }
            // Readable, hung up or failed: PQconsumeInput reads it or reports the failure.
            guard PQconsumeInput(handle) == 1 else { throw self.connectionError(sql: nil) }
            notifications = Self.takeNotifications(handle)
        }
        return notifications
    }

    /// Every complete notification libpq holds, each freed once copied.
    private static func takeNotifications(_ handle: OpaquePointer) -> [PostgresNotification] {
        var notifications: [PostgresNotification] = []
        while let notify = PQnotifies(handle) {
            // One allocation holds the struct and both strings: one PQfreemem frees them all.
            defer { PQfreemem(notify) }
            notifications.append(
                PostgresNotification(
                    channel: String(cString: notify.pointee.relname), payload: String(cString: notify.pointee.extra),
                    processID: notify.pointee.be_pid))
        }
        return notifications
    }

    /// The time left until `deadline` in whole milliseconds, rounded up so that a wait never
    /// ends early; 0 once it has passed.
    private static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int32 {
        let left = clock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}
