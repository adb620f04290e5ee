/// The `LISTEN`/`NOTIFY` channel on which a PostgreSQL store announces changes other hosts may
/// act on (a job submitted, cancel-requested, retried, finished or rescued): see
/// `PostgresJobStore.makeListener()`.
///
/// Notifications go to every session of the database that listens on the channel, whatever its
/// schema, so the name is derived from the store's namespace (its schema): two Sluice
/// installations in different schemas of one database do not wake each other. It is `sluice_`
/// and 16 hex digits of the FNV-1a hash `AdvisoryLockKey` uses (stable across hosts and
/// versions, byte-exact), which is always a valid identifier (`PostgresIdentifier`: lowercase,
/// 23 bytes) whatever the schema's name holds. A hash collision would only wake the other
/// installation's listeners now and then, which costs them a look at their store.
enum ChangeChannel {
    /// The channel of the store whose tables are in schema `namespace`.
    static func name(namespace: String) -> String {
        let hash = UInt64(bitPattern: AdvisoryLockKey.key(["changes"], namespace: namespace))
        let digits = String(hash, radix: 16)
        return "sluice_" + String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The channel on which every committed change of a job's tasks is announced (for
    /// long-polls on other hosts): the claims channel's name with `_p`. Apart from it, so that
    /// runners are not woken to look for claims by every other host's commit.
    static func progressName(namespace: String) -> String { Self.name(namespace: namespace) + "_p" }
}
