public import Foundation

/// A pipeline's four-eyes rule (`approval`): its jobs wait, holding no slot, until `required`
/// distinct people holding `approve` (none of them the one who triggered) approve, and end
/// `rejected` at the first rejection or `expired` after `expireAfter`.
public struct PipelineApproval: Sendable, Hashable {
    /// Distinct approvals a job needs.
    public var required: Int
    /// How long a job waits for them.
    public var expireAfter: TimeInterval

    /// The default wait: a day.
    public static let defaultExpireAfter: TimeInterval = 86_400

    /// Creates a rule.
    public init(required: Int = 1, expireAfter: TimeInterval = Self.defaultExpireAfter) {
        self.required = required
        self.expireAfter = expireAfter
    }
}
