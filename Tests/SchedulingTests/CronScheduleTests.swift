import Foundation
import Testing

@testable import Scheduling

/// When schedules fire: across the spring and autumn clock changes of Europe/Berlin and
/// America/New_York, and against a minute-by-minute search where clocks are one-to-one.
@Suite struct CronScheduleTests {
    static func utc(_ text: String) -> Date { try! Date(text + "Z", strategy: .iso8601) }

    static func fires(_ expression: String, _ zone: String, after: String, count: Int) throws -> [Date] {
        let schedule = try CronSchedule(expression: expression, timeZone: zone)
        return schedule.fireTimes(after: Self.utc(after), through: .distantFuture, limit: count)
    }

    @Test("02:30 in Europe/Berlin: the day before, the spring change (03:00, when the clock jumps), the day after")
    func berlinSpring() throws {
        #expect(
            try Self.fires("30 2 * * *", "Europe/Berlin", after: "2026-03-27T12:00:00", count: 3) == [
                Self.utc("2026-03-28T01:30:00"),  // 02:30 CET
                Self.utc("2026-03-29T01:00:00"),  // 02:30 does not exist: 03:00 CEST, the jump
                Self.utc("2026-03-30T00:30:00"),  // 02:30 CEST
            ])
    }

    @Test("02:30 in Europe/Berlin on the autumn change fires once, at the first pass; an hourly :30 fires at both")
    func berlinAutumn() throws {
        #expect(
            try Self.fires("30 2 * * *", "Europe/Berlin", after: "2026-10-24T12:00:00", count: 3) == [
                Self.utc("2026-10-25T00:30:00"),  // 02:30 CEST; 02:30 CET (01:30Z) does not fire again
                Self.utc("2026-10-26T01:30:00"),
                Self.utc("2026-10-27T01:30:00"),
            ])
        #expect(
            try Self.fires("30 * * * *", "Europe/Berlin", after: "2026-10-24T23:00:00", count: 4) == [
                Self.utc("2026-10-24T23:30:00"),  // 01:30 CEST
                Self.utc("2026-10-25T00:30:00"),  // 02:30 CEST
                Self.utc("2026-10-25T01:30:00"),  // 02:30 CET, the second pass
                Self.utc("2026-10-25T02:30:00"),  // 03:30 CET
            ])
    }

    @Test("02:30 in America/New_York: the spring change fires at 03:00 EDT; on the autumn change 02:30 happens once")
    func newYork() throws {
        #expect(
            try Self.fires("30 2 * * *", "America/New_York", after: "2026-03-07T00:00:00", count: 3) == [
                Self.utc("2026-03-07T07:30:00"),  // 02:30 EST
                Self.utc("2026-03-08T07:00:00"),  // skipped: 03:00 EDT
                Self.utc("2026-03-09T06:30:00"),  // 02:30 EDT
            ])
        // 1 November 2026: 02:00 EDT becomes 01:00 EST. 02:30 comes once (EST); 01:30 twice.
        #expect(
            try Self.fires("30 2 * * *", "America/New_York", after: "2026-10-31T12:00:00", count: 2) == [
                Self.utc("2026-11-01T07:30:00"), Self.utc("2026-11-02T07:30:00"),
            ])
        #expect(
            try Self.fires("30 1 * * *", "America/New_York", after: "2026-10-31T12:00:00", count: 2) == [
                Self.utc("2026-11-01T05:30:00"), Self.utc("2026-11-02T06:30:00"),
            ])
    }

    @Test("Several times the clock skips fire once together, when it jumps")
    func skippedTogether() throws {
        #expect(
            try Self.fires("*/20 2 * * *", "Europe/Berlin", after: "2026-03-29T00:00:00", count: 2) == [
                Self.utc("2026-03-29T01:00:00"), Self.utc("2026-03-30T00:00:00"),
            ])
    }

    @Test("29 February fires in leap years only, skipping 2100; a time zone is its exact IANA name")
    func leapDaysAndZones() throws {
        #expect(
            try Self.fires("0 12 29 2 *", "UTC", after: "2026-01-01T00:00:00", count: 2) == [
                Self.utc("2028-02-29T12:00:00"), Self.utc("2032-02-29T12:00:00"),
            ])
        #expect(try Self.fires("0 12 29 2 *", "UTC", after: "2097-01-01T00:00:00", count: 1) == [Self.utc("2104-02-29T12:00:00")])
        #expect(
            try Self.fires("0 0 29 2 1", "UTC", after: "2026-01-01T00:00:00", count: 1) == [Self.utc("2026-02-02T00:00:00")],
            "29 February or a Monday, in February")
        for bad in ["europe/berlin", "Europe/Berlin ", "CET1", "Nowhere/City", "", "Europe/Berl\u{0131}n", "../etc/passwd", "GMT+5"] {
            #expect(throws: CronError.self, "\(bad)") { try CronSchedule(expression: "@daily", timeZone: bad) }
        }
        #expect(try CronSchedule(expression: "@daily", timeZone: "UTC").timeZone.secondsFromGMT() == 0)
        #expect(try CronSchedule(expression: "@daily", timeZone: "Asia/Kolkata").timeZone.secondsFromGMT() == 19_800)
    }

    @Test(
        "Where the clock is one-to-one, the fire times are exactly the minutes whose wall clock matches",
        arguments: [
            ("*/7 */5 * * *", "UTC"), ("0 9-17 * * mon-fri", "Asia/Tokyo"), ("15,45 3 1-7 * 0", "Asia/Kolkata"),
            ("59 23 31 * *", "UTC"), ("0 0 13 * 5", "Asia/Tokyo"), ("* 6 * * *", "UTC"),
        ])
    func againstBruteForce(_ expression: String, _ zone: String) throws {
        let schedule = try CronSchedule(expression: expression, timeZone: zone)
        let start = Self.utc("2026-01-01T00:00:00")
        let end = Self.utc("2026-02-01T00:00:00")
        let offset = schedule.timeZone.secondsFromGMT(for: start)
        var expected: [Date] = []
        var t = Int(start.timeIntervalSince1970) + 60
        let expressionValue = schedule.expression
        while Double(t) <= end.timeIntervalSince1970 {
            let local = t + offset
            let days = CronSchedule.floorDivide(local, 86_400)
            let (_, month, day) = CronSchedule.civil(days)
            let seconds = local - days * 86_400
            if expressionValue.matches(month: month, day: day, weekday: CronSchedule.weekday(days)),
                expressionValue.hourList.contains(seconds / 3_600), expressionValue.minuteList.contains(seconds % 3_600 / 60)
            {
                expected.append(Date(timeIntervalSince1970: Double(t)))
            }
            t += 60
        }
        #expect(!expected.isEmpty)
        #expect(schedule.fireTimes(after: start, through: end, limit: 100_000) == expected)
    }

    @Test("Dates count right: civil dates and weekdays against Foundation's calendar")
    func civilDates() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // From 1600: Foundation's Gregorian calendar is Julian before October 1582.
        for days in stride(from: -135_000, through: 800_000, by: 997) {
            let date = Date(timeIntervalSince1970: Double(days) * 86_400)
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let (y, m, d) = CronSchedule.civil(days)
            #expect(y == c.year && m == c.month && d == c.day && CronSchedule.weekday(days) + 1 == c.weekday, "\(days)")
        }
    }

    @Test("Odd instants: a fractional or far-off start, a limit, an end before the first fire")
    func edges() throws {
        let schedule = try CronSchedule(expression: "0 * * * *", timeZone: "UTC")
        #expect(schedule.next(after: Self.utc("2026-01-01T00:00:00").addingTimeInterval(-0.5)) == Self.utc("2026-01-01T00:00:00"))
        #expect(schedule.next(after: Self.utc("2026-01-01T00:00:00")) == Self.utc("2026-01-01T01:00:00"), "strictly after")
        #expect(schedule.next(after: Date(timeIntervalSince1970: .infinity)) == nil)
        #expect(schedule.next(after: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(schedule.fireTimes(after: Self.utc("2026-01-01T00:00:00"), through: .distantFuture, limit: 3).count == 3)
        #expect(schedule.fireTimes(after: Self.utc("2026-01-01T00:00:00"), through: Self.utc("2026-01-01T00:59:59"), limit: 3).isEmpty)
    }
}
