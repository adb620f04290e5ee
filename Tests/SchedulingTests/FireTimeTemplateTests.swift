import Foundation
import Testing

@testable import Scheduling

/// Parameter values of schedules: placeholders for the fire time on the schedule's clock, and
/// what a missed run policy fires.
@Suite struct FireTimeTemplateTests {
    static func utc(_ text: String) -> Date { try! Date(text + "Z", strategy: .iso8601) }

    @Test("Placeholders render the fire time on the schedule's clock, offset included; {{ }} are braces")
    func render() throws {
        let berlin = try CronSchedule.zone("Europe/Berlin")
        let t = try FireTimeTemplate("d={date} t={time} dt={datetime} ts={timestamp} {year}/{month}/{day} {hour}h{minute} {{x}}")
        #expect(
            t.render(Self.utc("2026-03-29T01:00:00"), in: berlin)
                == "d=2026-03-29 t=03:00 dt=2026-03-29T03:00:00+02:00 ts=1774746000 2026/03/29 03h00 {x}")
        let newYork = try CronSchedule.zone("America/New_York")
        #expect(try FireTimeTemplate("{datetime}").render(Self.utc("2026-01-01T03:04:05"), in: newYork) == "2025-12-31T22:04:05-05:00")
        #expect(try FireTimeTemplate("{date}").render(Self.utc("2026-01-01T03:04:05"), in: newYork) == "2025-12-31", "the local date")
        #expect(try FireTimeTemplate("plain").render(Date(), in: newYork) == "plain")
        #expect(try FireTimeTemplate("").render(Date(), in: newYork) == "")
        #expect(try FireTimeTemplate("ü{date}ü").render(Self.utc("2026-01-01T12:00:00"), in: berlin) == "ü2026-01-01ü")
    }

    @Test(
        "Unknown placeholders and unpaired braces are refused",
        arguments: [
            "{dat}", "{DATE}", "{date", "date}", "{ date }", "{}", "{{date}", "{date}}", "{\u{0064}ate\u{0301}}", "}{",
        ])
    func refused(_ text: String) {
        #expect(throws: CronError.self) { try FireTimeTemplate(text) }
    }

    @Test("Missed runs: latest fires the most recent once, none only an on-time one, all the most recent up to the limit")
    func missedRuns() throws {
        let hourly = try CronSchedule(expression: "0 * * * *", timeZone: "UTC")
        let mark = Self.utc("2026-05-01T10:00:00")
        let down = Self.utc("2026-05-01T15:30:00")  // 10:00 ... 15:00 were missed
        #expect(MissedRuns.latest.due(hourly, mark: mark, now: down) == [Self.utc("2026-05-01T15:00:00")])
        #expect(MissedRuns.none.due(hourly, mark: mark, now: down) == [])
        #expect(MissedRuns.all(limit: 3).due(hourly, mark: mark, now: down) == (13...15).map { Self.utc("2026-05-01T\($0):00:00") })
        #expect(MissedRuns.all(limit: 100).due(hourly, mark: mark, now: down).count == 6)
        // On time (within a minute): every policy fires it, once.
        let onTime = Self.utc("2026-05-01T10:00:20")
        for policy in [MissedRuns.latest, .none, .all(limit: 5)] {
            #expect(policy.due(hourly, mark: mark, now: onTime) == [mark], "\(policy)")
            #expect(policy.due(hourly, mark: mark, now: mark.addingTimeInterval(-1)) == [], "not yet")
        }
        // A year missed of a schedule that fires every minute: the latest, and the last 100,
        // are found by looking back from now (a walk from the mark would take half a million steps).
        let everyMinute = try CronSchedule(expression: "* * * * *", timeZone: "UTC")
        #expect(
            MissedRuns.latest.due(everyMinute, mark: Self.utc("2025-05-01T00:00:00"), now: Self.utc("2026-05-01T00:00:30"))
                == [Self.utc("2026-05-01T00:00:00")])
        let last = MissedRuns.all(limit: 100).due(everyMinute, mark: Self.utc("2025-05-01T00:00:00"), now: down)
        #expect(last.count == 100 && last.last == Self.utc("2026-05-01T15:30:00") && last.first == Self.utc("2026-05-01T13:51:00"))
    }
}
