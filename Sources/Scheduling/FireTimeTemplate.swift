public import Foundation

/// A parameter value of a schedule, with placeholders for the time the schedule fired, written
/// on the schedule's own clock: `{date}` (2026-03-29), `{time}` (02:30), `{datetime}`
/// (2026-03-29T02:30:00+02:00), `{timestamp}` (Unix seconds), `{year}`, `{month}`, `{day}`,
/// `{hour}`, `{minute}` (zero-padded). `{{` and `}}` are literal braces; any other brace is refused.
public struct FireTimeTemplate: Sendable, Hashable {
    /// The text as written.
    public let source: String
    private let parts: [Part]

    private enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// The placeholder names.
    public static let names = ["date", "time", "datetime", "timestamp", "year", "month", "day", "hour", "minute"]

    /// Parses `source`.
    /// - Throws: `CronError` naming an unknown placeholder or an unpaired brace.
    public init(_ source: String) throws(CronError) {
        self.source = source
        var parts: [Part] = []
        var literal: [UInt8] = []
        let bytes = Array(source.utf8)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "}") {
                if i + 1 < bytes.count, bytes[i + 1] == byte {
                    literal.append(byte)
                    i += 2
                    continue
                }
                guard byte == UInt8(ascii: "{"), let close = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw CronError("an unpaired \(byte == UInt8(ascii: "{") ? "{" : "}") (write {{ or }} for a brace)")
                }
                let name = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                guard Self.names.contains(where: { $0.utf8.elementsEqual(name.utf8) }) else {
                    throw CronError("{\(name)} is not a placeholder (known: \(Self.names.map { "{\($0)}" }.joined(separator: ", ")))")
                }
                if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
                literal = []
                parts.append(.placeholder(name))
                i = close + 1
            } else {
                literal.append(byte)
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
        self.parts = parts
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
        var out = ""
        for part in self.parts {
            switch part {
            case .literal(let text): out += text
            case .placeholder(let name):
                switch name {
                case "date": out += date
                case "time": out += time
                case "datetime": out += "\(date)T\(time):\(two(secondOfDay % 60))\(zoneText)"
                case "timestamp": out += "\(seconds)"
                case "year": out += four(year)
                case "month": out += two(month)
                case "day": out += two(day)
                case "hour": out += two(secondOfDay / 3_600)
                default: out += two(secondOfDay % 3_600 / 60)
                }
            }
        }
        return out
    }

    /// `instant` as ISO 8601 on the clock of `zone`, with its offset (`{datetime}`).
    public static func iso(_ instant: Date, in zone: TimeZone) -> String {
        // A template of one placeholder always parses.
        (try? FireTimeTemplate("{datetime}"))?.render(instant, in: zone) ?? "\(instant)"
    }
}
