/// A transaction isolation level for `PostgresConnection.transaction(isolation:_:)`.
public enum PostgresIsolationLevel: Sendable, Hashable {
    /// Each statement sees what was committed before it began (PostgreSQL's default).
    case readCommitted
    /// Every statement sees the snapshot taken at the transaction's first statement; a write to
    /// a row changed by a concurrent commit fails with a serialization failure (40001).
    case repeatableRead
    /// As if the transactions had run one after another: the server aborts one of any set of
    /// transactions that could not have (40001). Run such transactions through
    /// `retryingTransaction(isolation:maxAttempts:_:)`.
    case serializable

    /// The words after `ISOLATION LEVEL`.
    var sql: String {
        switch self {
        case .readCommitted: return "READ COMMITTED"
        case .repeatableRead: return "REPEATABLE READ"
        case .serializable: return "SERIALIZABLE"
        }
    }
}
