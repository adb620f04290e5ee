public import Foundation

/// A cron expression read on the clocks of one IANA time zone: when it fires.
///
/// Fields are matched against the zone's wall clock. Where the wall clock is not one-to-one:
/// - A time the clock skips (the spring change: 02:30 on 29 March 2026 in Europe/Berlin) fires
///   once, when the clock jumps (03:00 local), as in Vixie cron: a daily job still runs that day.
///   Several skipped times fire once together.
/// - A time the clock passes twice (the autumn change: 02:30 on 25 October 2026 in Europe/Berlin)
///   fires at its first pass only, so a daily job runs once; unless the hour field is `*`, where
///   both passes fire, so an hourly or every-15-minutes schedule keeps its pace.
public struct CronSchedule: Sendable, Hashable {
    /// What fires.
    public let expression: CronExpression
    /// Whose clock it reads.
    public let timeZone: TimeZone

    /// Creates a schedule.
    public init(_ expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// Parses the expression and looks the zone up by its exact IANA name (`Europe/Berlin`,
    /// `UTC`; compared as bytes, so `europe/berlin` or `GMT+5`, which Foundation would read as
    /// `GMT+0500`, is refused rather than guessed).
    /// - Throws: `CronError`.
    public init(expression: String, timeZone identifier: String) throws(CronError) {
        self.init(try CronExpression(expression), timeZone: try Self.zone(identifier))
    }

    /// The zone named exactly `identifier`: letters, digits, `/`, `_`, `+` and `-`, a name
    /// Foundation's time zone data (built into it, not read from /usr/share/zoneinfo) knows under
    /// that very spelling.
    /// - Throws: `CronError` if no IANA zone has that name.
    public static func zone(_ identifier: String) throws(CronError) -> TimeZone {
        let allowed = identifier.utf8.allSatisfy { byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                || [UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(byte)
        }
        // Foundation answers "UTC" with its "GMT" zone: the same clock.
        if identifier == "UTC", let utc = TimeZone(identifier: "UTC") { return utc }
        guard allowed, (1...64).contains(identifier.utf8.count), let zone = TimeZone(identifier: identifier),
            zone.identifier.utf8.elementsEqual(identifier.utf8)
        else { throw CronError("\(identifier) is not an IANA time zone name (like Europe/Berlin or UTC)") }
        return zone
    }

    /// The zone's name as configured: `UTC` for Foundation's `GMT`, which is what it answers
    /// `UTC` with.
    public var zoneName: String { self.timeZone.identifier == "GMT" ? "UTC" : self.timeZone.identifier }

    /// How far ahead `next(after:)` looks: every date recurs within this (29 February skips 2100).
    static let searchDays = 9 * 366

    /// The first time after `date` (strictly) at which the schedule fires, or nil if none within
    /// nine years (a 29 February that is also a restricted weekday, say).
    public func next(after date: Date) -> Date? {
        let after = date.timeIntervalSince1970
        guard after.isFinite, abs(after) < 1e11 else { return nil }
        // Start a day early: the wall clock of `date` may be behind the instants of the day before.
        var day = Self.floorDivide(Int(after.rounded(.down)) + self.timeZone.secondsFromGMT(for: date), 86_400) - 1
        let hours = self.expression.hourList
        let minutes = self.expression.minuteList
        var best: Int? = nil
        for _ in 0..<Self.searchDays {
            let (_, month, dayOfMonth) = Self.civil(day)
            if self.expression.matches(month: month, day: dayOfMonth, weekday: Self.weekday(day)) {
                // The zone's offsets around this day bound where its wall times can fall: a wall
                // time w is at w - offset for an offset in low...high (a skipped one, at the jump
                // between them). Only walls that may come after `after` are resolved, and the
                // search stops at the first wall that cannot come before the best so far.
                let (low, high) = self.offsets(around: day)
                search: for hour in hours {
                    for minute in minutes {
                        let wall = day * 86_400 + hour * 3_600 + minute * 60
                        if Double(wall - low) <= after { continue }
                        if let best, wall - high > best { break search }
                        for instant in self.instants(wall) where Double(instant) > after {
                            best = min(best ?? instant, instant)
                        }
                    }
                }
            }
            // Later days' instants are all later than this day's by at least a day less the
            // largest offset swing: stop once the best is behind the next day's earliest instant.
            if let best, (day + 1) * 86_400 - 15 * 3_600 > best { return Date(timeIntervalSince1970: Double(best)) }
            day += 1
        }
        return best.map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// The times the schedule fires after `start` (strictly) up to `end` (inclusive), at most
    /// `limit` of them, oldest first: what a catch-up after downtime replays.
    public func fireTimes(after start: Date, through end: Date, limit: Int) -> [Date] {
        var result: [Date] = []
        var cursor = start
        while result.count < limit, let next = self.next(after: cursor), next <= end {
            result.append(next)
            cursor = next
        }
        return result
    }

    /// The smallest and largest UTC offsets (seconds) the zone has from the day before `day` to
    /// the day after it (days counted from 1970-01-01 on the wall clock).
    func offsets(around day: Int) -> (low: Int, high: Int) {
        let zone = self.timeZone
        let samples = [day - 1, day, day + 1, day + 2].map { d in
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(d * 86_400)))
        }
        return (samples.min() ?? 0, samples.max() ?? 0)
    }

    /// The instants (Unix seconds) at which the wall clock reads `wall` (seconds of a local date
    /// and time counted as if it were UTC): one, two in a repeated hour (the second only for a
    /// schedule that fires every hour), or, in a skipped hour, the instant the clock jumps.
    func instants(_ wall: Int) -> [Int] {
        let zone = self.timeZone
        func offset(_ t: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))) }
        let offsets = Set([offset(wall - 86_400), offset(wall), offset(wall + 86_400)])
        let valid = offsets.map { wall - $0 }.filter { offset($0) == wall - $0 }.sorted()
        if valid.isEmpty {
            // Skipped: the clock jumps from before `wall` to after it at a transition between
            // the two readings of `wall`.
            let earliest = wall - (offsets.max() ?? 0)
            if let jump = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(earliest))) {
                return [Int(jump.timeIntervalSince1970.rounded(.up))]
            }
            return [wall - (offsets.min() ?? 0)]
        }
        return self.expression.firesEveryHour ? valid : [valid[0]]
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`).
    static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = Self.floorDivide(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The day of the week (0 = Sunday) of a day counted from 1970-01-01, a Thursday.
    static func weekday(_ days: Int) -> Int { ((days % 7) + 11) % 7 }

    static func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
}
