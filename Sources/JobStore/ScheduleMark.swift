public import Foundation

/// What the store keeps of a schedule between runs: when it fires next, and for which
/// definition (expression and zone) that was worked out. A restart reads it, so a schedule
/// neither loses a run it was due nor fires one twice.
public struct ScheduleMark: Sendable, Hashable {
    /// The schedule's name (unique across pipelines; compared as bytes).
    public var name: String
    /// Its next fire time.
    public var nextFireAt: Date
    /// The definition the time was worked out for (`PipelineSchedule.fingerprint`).
    public var fingerprint: String

    /// Creates a mark.
    public init(name: String, nextFireAt: Date, fingerprint: String) {
        self.name = name
        self.nextFireAt = StoredTime.rounded(nextFireAt)
        self.fingerprint = fingerprint
    }
}
