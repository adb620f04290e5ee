import Testing

@testable import Scheduling

/// Parsing cron expressions: every accepted form, and clear refusals of everything else.
@Suite struct CronExpressionTests {
    @Test("Fields take *, values, ranges, steps, lists and names; 0 and 7 are Sunday")
    func forms() throws {
        let e = try CronExpression("*/15 9-17/4 1,15 jan-mar,DEC mon-fri")
        #expect(e.minuteList == [0, 15, 30, 45])
        #expect(e.hourList == [9, 13, 17])
        #expect(e.daysOfMonth == (1 << 1 | 1 << 15))
        #expect(e.months == (1 << 1 | 1 << 2 | 1 << 3 | 1 << 12))
        #expect(e.daysOfWeek == 0b0111110)
        #expect(try CronExpression("0 0 * * 7").daysOfWeek == 1, "7 is Sunday")
        #expect(try CronExpression("0 0 * * 5-7").daysOfWeek == 0b1100001)
        #expect(try CronExpression("5/20 * * * *").minuteList == [5, 25, 45], "a/n runs from a to the end")
        #expect(try CronExpression("\t0  0 * *\t* ").hourList == [0], "any run of spaces and tabs separates")
        #expect(try CronExpression("* * * * *").firesEveryHour)
        #expect(try CronExpression("0 */1 * * *").firesEveryHour)
        #expect(try !CronExpression("0 0-22 * * *").firesEveryHour)
    }

    @Test(
        "Names stand for five fields; @reboot is refused with a reason",
        arguments: [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
        ])
    func macros(_ name: String, _ fields: String) throws {
        let named = try CronExpression(name)
        let plain = try CronExpression(fields)
        #expect(named.text == name)
        #expect(
            named.minutes == plain.minutes && named.hours == plain.hours && named.daysOfMonth == plain.daysOfMonth
                && named.months == plain.months && named.daysOfWeek == plain.daysOfWeek)
    }

    @Test(
        "Malformed, out-of-range and hostile expressions are refused, naming what is wrong",
        arguments: [
            ("", "five fields"), ("* * * *", "five fields"), ("* * * * * *", "five fields"), ("60 * * * *", "minute field"),
            ("* 24 * * *", "hour field"), ("* * 0 * *", "day-of-month field"), ("* * 32 * *", "day-of-month"),
            ("* * * 13 *", "month field"), ("* * * * 8", "day-of-week"), ("*/0 * * * *", "step"), ("*/61 * * * *", "step"),
            ("5-1 * * * *", "backwards"), ("1-2-3 * * * *", "minute field"), ("1, * * * *", "empty item"),
            (",1 * * * *", "empty item"), ("1/2/3 * * * *", "more than one /"), ("- * * * *", "both ends"),
            ("1- * * * *", "both ends"), ("* * * * mon-", "both ends"), ("* * * jan-foo *", "not a number"),
            ("* * * * monday", "not a number"), ("* * mon * *", "day-of-month"), ("* * * * jan", "day-of-week"),
            ("0x1 * * * *", "not a number"), ("-1 * * * *", "both ends"), ("+1 * * * *", "not a number"),
            ("0001 * * * *", "not a number"), ("1.5 * * * *", "not a number"), ("@reboot", "@reboot is not a time"),
            ("@every 5m", "five fields"), ("@often", "not a schedule name"), ("\u{FF11} * * * *", "ASCII"),
            ("\u{0663} * * * *", "ASCII"), ("* * * * m\u{043E}n", "ASCII"), ("0 0 * * *\n", "ASCII"), ("0\u{0} 0 * * *", "ASCII"),
            ("0 0 30 2 *", "never fires"), ("0 0 31 4,6,9,11 *", "never fires"), ("0 0 31 feb *", "never fires"),
            (String(repeating: "1,", count: 200) + "1 * * * *", "at most 256 bytes"),
        ])
    func refused(_ text: String, _ says: String) {
        #expect {
            _ = try CronExpression(text)
        } throws: { error in
            (error as? CronError)?.message.contains(says) == true
        }
    }

    @Test("A restricted day of month and day of week match either; a * in one makes both required")
    func dayFields() throws {
        // 2026-11-13 is a Friday; 2026-11-20 a Friday; 2026-11-14 a Saturday.
        let either = try CronExpression("0 0 13 * 5")
        #expect(either.matches(month: 11, day: 13, weekday: 5) && either.matches(month: 11, day: 20, weekday: 5))
        #expect(either.matches(month: 2, day: 13, weekday: 1) && !either.matches(month: 11, day: 14, weekday: 6))
        let odd = try CronExpression("0 0 */2 * mon")
        #expect(odd.matches(month: 1, day: 5, weekday: 1) && !odd.matches(month: 1, day: 6, weekday: 1), "*/2 is a * field: both")
        #expect(!odd.matches(month: 1, day: 7, weekday: 3))
        #expect(try CronExpression("0 0 31 2 1").matches(month: 2, day: 2, weekday: 1), "31 February with Mondays fires on Mondays")
        #expect(try !CronExpression("0 0 * feb *").matches(month: 3, day: 1, weekday: 0))
    }
}
