/// A cron expression: five fields (minute, hour, day of month, month, day of week), or one of the
/// names `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`.
///
/// Each field is a comma-separated list of `*`, a value, a range `a-b`, each optionally with a
/// step (`*/15`, `1-30/2`; `5/15` means `5-59/15`). Months and days of the week may be written as
/// three-letter English names (`jan`, `mon`, any case); day of week 0 and 7 are both Sunday. As in
/// Vixie cron, when both day fields are restricted (neither starts with `*`), a day matches if
/// either matches (`0 0 13 * 5`: the 13th and every Friday); otherwise both must.
///
/// Only ASCII is accepted, at most `maxLength` bytes: a full-width digit or a lookalike letter is
/// refused with the field it is in, never read as a number or a name. An expression that can
/// never fire (`0 0 30 2 *`) is refused too.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    /// Bit n: minute n (0-59).
    let minutes: UInt64
    /// Bit n: hour n (0-23).
    let hours: UInt32
    /// Bit n: day of month n (1-31).
    let daysOfMonth: UInt32
    /// Bit n: month n (1-12).
    let months: UInt16
    /// Bit n: day of week n (0 = Sunday ... 6 = Saturday).
    let daysOfWeek: UInt8
    /// Whether the day-of-month field starts with `*` (Vixie cron's rule for combining the day fields).
    let daysOfMonthStar: Bool
    /// Whether the day-of-week field starts with `*`.
    let daysOfWeekStar: Bool

    /// The longest expression accepted, in bytes.
    public static let maxLength = 256

    /// Whether the hour field matches every hour: such a schedule also fires in the second pass of
    /// an hour the clock repeats (see `CronSchedule`).
    public var firesEveryHour: Bool { self.hours == (1 << 24) - 1 }

    public var description: String { self.text }

    /// The expression's meaning as text, the same however it was written (`@daily`,
    /// `0 0 * * *` and `0  0 * * 7-7,0` alike): what a kept mark is compared with, so an edit
    /// that changes only spelling keeps the schedule's place.
    public var canonical: String {
        let stars = (self.daysOfMonthStar ? "*" : "-") + (self.daysOfWeekStar ? "*" : "-")
        return [UInt64(self.minutes), UInt64(self.hours), UInt64(self.daysOfMonth), UInt64(self.months), UInt64(self.daysOfWeek)]
            .map { String($0, radix: 16) }.joined(separator: ".") + stars
    }

    /// What each name stands for.
    static let macros: [(name: String, fields: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]

    /// Parses `text`.
    /// - Throws: `CronError` saying which field is wrong and why.
    public init(_ text: String) throws(CronError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maxLength else { throw CronError("a cron expression is at most \(Self.maxLength) bytes") }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 }) else {
            throw CronError("a cron expression is ASCII letters, digits, spaces and * , - / @ only")
        }
        var source = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if source.count == 1, source[0].hasPrefix("@") {
            let name = source[0].lowercased()
            guard let macro = Self.macros.first(where: { $0.name == name }) else {
                throw CronError(
                    "\(source[0]) is not a schedule name; use \(Self.macros.map(\.name).joined(separator: ", ")) or five fields"
                        + (name == "@reboot" ? " (@reboot is not a time: Sluice has no start-up jobs)" : ""))
            }
            source = macro.fields.split(separator: " ").map(String.init)
        }
        guard source.count == 5 else {
            throw CronError(
                "a cron expression has five fields (minute hour day-of-month month day-of-week) or is a name like @daily; this has \(source.count)"
            )
        }
        self.text = text
        self.minutes = try Self.field(source[0], "minute", 0...59)
        self.hours = UInt32(try Self.field(source[1], "hour", 0...23))
        self.daysOfMonth = UInt32(try Self.field(source[2], "day-of-month", 1...31))
        self.months = UInt16(try Self.field(source[3], "month", 1...12, names: Self.monthNames, firstName: 1))
        // 7 is Sunday too: fold bit 7 into bit 0.
        let week = try Self.field(source[4], "day-of-week", 0...7, names: Self.dayNames, firstName: 0)
        self.daysOfWeek = UInt8((week | (week >> 7)) & 0x7F)
        self.daysOfMonthStar = source[2].hasPrefix("*")
        self.daysOfWeekStar = source[4].hasPrefix("*")
        guard self.canFire else { throw CronError("\(text) never fires: no month has that day") }
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// The bits of one field.
    private static func field(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(CronError) -> UInt64 {
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronError("\(name) field \(text): an empty item between commas") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw CronError("\(name) field \(text): more than one / in \(item)") }
            var step = 1
            if parts.count == 2 {
                guard let value = Self.number(parts[1]), value >= 1, value <= range.upperBound - range.lowerBound + 1 else {
                    throw CronError(
                        "\(name) field \(text): the step after / must be a number from 1 to \(range.upperBound - range.lowerBound + 1)")
                }
                step = value
            }
            let base = parts[0]
            var low: Int
            var high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else {
                let ends = base.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else { throw CronError("\(name) field \(text): \(base) is not a value or a range a-b") }
                var values: [Int] = []
                for end in ends {
                    guard let value = Self.number(end) ?? Self.name(end, names, firstName) else {
                        throw CronError(
                            "\(name) field \(text): \(end.isEmpty ? "a range needs both ends" : "\(end) is not a number\(names.isEmpty ? "" : " or a name (\(names.joined(separator: ", ")))")")"
                        )
                    }
                    guard range.contains(value) else {
                        throw CronError("\(name) field \(text): \(value) is out of range \(range.lowerBound)-\(range.upperBound)")
                    }
                    values.append(value)
                }
                low = values[0]
                // `5/15` is `5-max/15`.
                high = values.count == 2 ? values[1] : (parts.count == 2 ? range.upperBound : low)
                guard low <= high else {
                    throw CronError("\(name) field \(text): the range \(base) runs backwards; write it as two ranges")
                }
            }
            for value in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(value) }
        }
        return bits
    }

    /// A decimal number of at most three ASCII digits.
    private static func number(_ text: Substring) -> Int? {
        guard (1...3).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }

    /// The value of a three-letter name (ASCII, any case), or nil.
    private static func name(_ text: Substring, _ names: [String], _ first: Int) -> Int? {
        guard text.utf8.count == 3 else { return nil }
        let lower = String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
        return names.firstIndex { $0.utf8.elementsEqual(lower.utf8) }.map { $0 + first }
    }

    /// Whether some day of some year matches: with both day fields restricted any weekday does;
    /// otherwise some allowed month must have an allowed day of month (weekdays fall on every date
    /// over the years).
    private var canFire: Bool {
        if !self.daysOfMonthStar && !self.daysOfWeekStar { return true }
        let longest = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...12).contains { month in
            self.months & (1 << month) != 0 && (1...longest[month]).contains { self.daysOfMonth & (1 << $0) != 0 }
        }
    }

    /// Whether the date matches the day fields and the month (`weekday`: 0 = Sunday).
    func matches(month: Int, day: Int, weekday: Int) -> Bool {
        guard self.months & (1 << month) != 0 else { return false }
        let dayOfMonth = self.daysOfMonth & (1 << day) != 0
        let dayOfWeek = self.daysOfWeek & (1 << weekday) != 0
        return self.daysOfMonthStar || self.daysOfWeekStar ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }

    /// The hours that match, ascending.
    var hourList: [Int] { (0..<24).filter { self.hours & (1 << $0) != 0 } }
    /// The minutes that match, ascending.
    var minuteList: [Int] { (0..<60).filter { self.minutes & (1 << $0) != 0 } }
}
