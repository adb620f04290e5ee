import JobStore
import Locking
import Postgres

/// A `JobStoreListener` for `PostgresJobStore`: a connection of its own (not from the store's
/// pool, since it stays idle in `LISTEN` for as long as it lives) that listens on the store's
/// channel (`ChangeChannel`).
///
/// Confinement: a `PostgresConnection` must be used by one thread at a time. The listener is
/// meant for one thread (the runner's listener thread); the connection is nevertheless kept in a
/// `Locked`, held for the whole of `wait`, so that a `close()` from another thread (shutting
/// down) waits for the current `wait` to return rather than freeing the connection under it.
final class PostgresChangeListener: JobStoreListener {
    private let connection: Locked<PostgresConnection>
    /// The claims channel (`ChangeChannel.name`); any other channel heard is the progress one.
    private let channel: String

    /// Connects and starts listening on `channel` (and on `progressChannel`, if given).
    /// - Throws: `PostgresError` if connecting or `LISTEN` fails (the store classifies it).
    init(
        connection: String, password: String?, defaults: [(String, String)] = [], channel: String, progressChannel: String? = nil
    ) throws {
        let db = try PostgresConnection(connection, password: password, defaults: defaults)
        do {
            try db.listen(channel)
            if let progressChannel { try db.listen(progressChannel) }
        } catch {
            db.close()
            throw error
        }
        self.connection = Locked(db)
        self.channel = channel
    }

    deinit { self.close() }

    /// Waits for notifications (`waitForNotifications`); several that arrived together count as
    /// one wake-up.
    /// - Throws: `StorageUnavailable` if the connection broke or was closed; the caller makes a
    ///   new listener (notifications sent meanwhile are lost, so it looks at the store first).
    func wait(timeout: Duration) throws -> Bool {
        !(try self.waitForChanges(timeout: timeout)).isEmpty
    }

    func waitForChanges(timeout: Duration) throws -> StoreChanges {
        let notifications: [PostgresNotification]
        do {
            notifications = try self.connection.withLock { db throws(PostgresError) in try db.waitForNotifications(timeout: timeout) }
        } catch {
            throw StorageUnavailable(classifying: error) ?? StorageUnavailable(.io, detail: error.message)
        }
        var changes: StoreChanges = []
        for notification in notifications {
            changes.insert(notification.channel.utf8.elementsEqual(self.channel.utf8) ? .claimable : .progress)
        }
        return changes
    }

    /// Closes the connection (waiting for a `wait` in progress on another thread to return);
    /// later `wait`s throw `StorageUnavailable`. Closing twice does nothing.
    func close() {
        self.connection.withLock { $0.close() }
    }
}
