/// The store cannot do its work right now for a reason outside Sluice's control: the database is
/// locked by someone else past the busy timeout, the disk is full, or the file system fails.
///
/// Not a bug, so not a 500: the HTTP layer answers 503 (507 for a full disk) with `Retry-After`,
/// and `/healthz` reports "degraded". Nothing was changed: the failing transaction rolled back.
public struct StorageUnavailable: Error, Sendable, CustomStringConvertible {
    /// What kind of trouble.
    public enum Kind: String, Sendable {
        /// Another connection or process holds the database lock past the busy timeout.
        case busy
        /// No space is left for the database or its journal.
        case full
        /// The file system reported an I/O error, or the database cannot be opened.
        case io
    }

    /// What kind of trouble.
    public let kind: Kind
    /// The underlying error's text (no bound values: those never reach error messages).
    public let detail: String

    /// Creates the error.
    public init(_ kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// Seconds a client should wait before trying again.
    public var retryAfterSeconds: Int {
        switch self.kind {
        case .busy: 2
        case .full: 60
        case .io: 30
        }
    }

    /// A sentence for the client and the log.
    public var message: String {
        switch self.kind {
        case .busy: "the job store is busy (locked by another writer); nothing was changed, try again shortly"
        case .full: "the job store's disk is full; nothing was changed"
        case .io: "the job store cannot be read or written (I/O error); nothing was changed"
        }
    }

    public var description: String { "storage unavailable (\(self.kind.rawValue)): \(self.detail)" }
}
