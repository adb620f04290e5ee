public import Foundation

/// A parameter value of a schedule, with placeholders for the time the schedule fired, written
/// on the schedule's own clock: `{date}` (2026-03-29), `{time}` (02:30), `{datetime}`
/// (2026-03-29T02:30:00+02:00), `{timestamp}` (Unix seconds), `{year}`, `{month}`, `{day}`,
/// `{hour}`, `{minute}` (zero-padded). `{{` and `}}` are literal braces; any other brace is refused.
public struct FireTimeTemplate: Sendable, Hashable {
    private let template: BracedTemplate

    /// The text as written.
    public var source: String { self.template.source }

    /// The placeholder names.
    public static let names = ["date", "time", "datetime", "timestamp", "year", "month", "day", "hour", "minute"]

    /// Parses `source`.
    /// - Throws: `CronError` naming an unknown placeholder or an unpaired brace.
    public init(_ source: String) throws(CronError) {
        self.template = try BracedTemplate(
            source, isKnown: { name in Self.names.contains { $0.utf8.elementsEqual(name.utf8) } },
            known: Self.names.map { "{\($0)}" }.joined(separator: ", "))
    }

    /// The value for a schedule that fired at `instant`, read on the clock of `zone`.
    public func render(_ instant: Date, in zone: TimeZone) -> String {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down))
        let offset = zone.secondsFromGMT(for: instant)
        let local = seconds + offset
        let days = CronSchedule.floorDivide(local, 86_400)
        let (year, month, day) = CronSchedule.civil(days)
        let secondOfDay = local - days * 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        func four(_ n: Int) -> String {
            let digits = String(abs(n))
            return (n < 0 ? "-" : "") + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        let date = "\(four(year))-\(two(month))-\(two(day))"
        let time = "\(two(secondOfDay / 3_600)):\(two(secondOfDay % 3_600 / 60))"
        let sign = offset < 0 ? "-" : "+"
        let zoneText = "\(sign)\(two(abs(offset) / 3_600)):\(two(abs(offset) % 3_600 / 60))"
        return self.template.render { name in
            switch name {
            case "date": date
            case "time": time
            case "datetime": "\(date)T\(time):\(two(secondOfDay % 60))\(zoneText)"
            case "timestamp": "\(seconds)"
            case "year": four(year)
            case "month": two(month)
            case "day": two(day)
            case "hour": two(secondOfDay / 3_600)
            default: two(secondOfDay % 3_600 / 60)
            }
        }
    }

    /// `instant` as ISO 8601 on the clock of `zone`, with its offset (`{datetime}`).
    public static func iso(_ instant: Date, in zone: TimeZone) -> String {
        // A template of one placeholder always parses.
        (try? FireTimeTemplate("{datetime}"))?.render(instant, in: zone) ?? "\(instant)"
    }
}
