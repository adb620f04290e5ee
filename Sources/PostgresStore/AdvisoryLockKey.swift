/// The keys of the transaction-scoped advisory locks (`pg_advisory_xact_lock`) that make
/// `PostgresJobStore.submit` and `claim` atomic across connections and hosts.
///
/// A key is the 64-bit FNV-1a hash of the store's namespace (the PostgreSQL schema its tables
/// are in), a lock kind and the bytes of the names it guards, each part followed by a 0 byte so
/// that no two different tuples run together into the same input. FNV-1a, not Swift's `Hasher`:
/// every host and every Sluice version must derive the same key from the same names, and
/// `Hasher` is seeded per process. It works on the UTF-8 bytes, so canonically equivalent but
/// different names ("K", U+212A) get different keys.
///
/// Two different tuples may, rarely, hash to the same key. That costs nothing but waiting:
/// the lock only ever serialises transactions that would have been correct anyway.
enum AdvisoryLockKey {
    /// The lock a submission takes for its pipeline: it serialises every submission to that
    /// pipeline (duplicate check and queue bound).
    static func pipeline(_ pipeline: String, namespace: String) -> Int64 {
        self.key(["pipeline", pipeline], namespace: namespace)
    }

    /// The lock a submission with an idempotency key takes for its caller and key: it
    /// serialises submissions that could find each other by that key, in whatever pipeline.
    static func idempotencyKey(user: String, identitySource: String, key: String, namespace: String) -> Int64 {
        self.key(["idempotency", user, identitySource, key], namespace: namespace)
    }

    /// The lock every transaction that inserts a job or an audit record takes just before the
    /// insert, and holds until its commit: ids are then handed out in commit order, as with
    /// SQLite's single writer, so a reader paging by id (`afterID`, `beforeID`) never misses a
    /// row that commits later with a smaller id.
    static func insertOrder(namespace: String) -> Int64 {
        self.key(["insert order"], namespace: namespace)
    }

    /// The lock every `claim` takes after checking its lease: claims of all hosts run one at a
    /// time, so each one counts the jobs the claims before it took (pipeline concurrency is
    /// exact over all hosts). Releasing (rescue, finishing, retry) never takes it: a claim that
    /// counts a job a moment after it was released only admits less, never more.
    static func claim(namespace: String) -> Int64 {
        self.key(["claim"], namespace: namespace)
    }

    /// FNV-1a (64 bits) of `namespace` and `parts`, each followed by a 0 byte.
    static func key(_ parts: [String], namespace: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in [namespace] + parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash = hash &* 0x0000_0100_0000_01b3  // the 0 byte: xor with 0 changes nothing
        }
        return Int64(bitPattern: hash)
    }
}
