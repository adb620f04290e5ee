public import Foundation

/// What a schedule does about the times it should have fired while Sluice was not running (or
/// could not fire: a store outage).
public enum MissedRuns: Sendable, Hashable {
    /// Fire once, for the most recent of them (the default).
    case latest
    /// Fire none of them; the next run is the next on time.
    case none
    /// Fire for each of them, oldest first, at most the most recent `limit`.
    case all(limit: Int)

    /// How long after its time a fire still counts as on time rather than missed.
    public static let grace: TimeInterval = 60

    /// The fire times due at `now` for a schedule whose next fire time was `mark`: none while
    /// `mark` is ahead; otherwise what this policy makes of the times from `mark` to `now` (the
    /// latest of them is on time if it passed less than `grace` ago, and then fires whatever the
    /// policy). Oldest first.
    public func due(_ schedule: CronSchedule, mark: Date, now: Date) -> [Date] {
        guard mark <= now else { return [] }
        let wanted: Int
        switch self {
        case .latest, .none: wanted = 1
        case .all(let limit): wanted = max(1, limit)
        }
        let passed = Self.latest(wanted, of: schedule, from: mark, through: now)
        switch self {
        case .latest, .all: return passed
        case .none: return passed.filter { now.timeIntervalSince($0) <= Self.grace }
        }
    }

    /// The last `count` fire times in `from ... through`, oldest first. Searched in windows
    /// growing back from `through` (an hour, a day, a month, a year, the whole span), so a
    /// schedule that fires every minute and was missed for a year costs a few hundred steps,
    /// not half a million.
    static func latest(_ count: Int, of schedule: CronSchedule, from start: Date, through end: Date) -> [Date] {
        let span = end.timeIntervalSince(start)
        for window: Double in [3_600, 86_400, 31 * 86_400, 366 * 86_400, span] {
            let from = window >= span ? start.addingTimeInterval(-0.001) : end.addingTimeInterval(-window)
            let found = schedule.fireTimes(after: from, through: end, limit: 1_000_000)
            if found.count >= count || window >= span { return Array(found.suffix(count)) }
        }
        return []
    }
}
