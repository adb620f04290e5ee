/// The stored text of an audit record's decision: `allow` or `deny`. Every store writes it, and
/// `AuditQuery.allowed` filters on it.
public enum AuditDecisionColumn {
    /// `allow` for an allowed decision, else `deny`.
    public static func encode(_ allowed: Bool) -> String { allowed ? "allow" : "deny" }

    /// Whether `text` records an allowed decision (anything but `allow` is a denial).
    public static func decode(_ text: String?) -> Bool { text == "allow" }
}
