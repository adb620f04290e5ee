/// The outcome of asking the policy whether a subject may use a verb on a pipeline.
/// A denial is a value, not an error: callers decide how to present it (403 or 404).
public enum Decision: Sendable, Hashable {
    /// Allowed by the grant at `grantIndex` of role `role`.
    case allow(role: String, grantIndex: Int)
    /// Denied; `reason` says why, for logs and explanations (safe to show the subject).
    case deny(reason: String)

    /// Whether the decision allows.
    public var isAllowed: Bool {
        if case .allow = self { return true }
        return false
    }
}
