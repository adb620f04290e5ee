/// UTC date-times as JSON carries them, from whole milliseconds since the Unix epoch:
/// `2023-11-14T22:13:20.123Z`. Written by hand (days-to-civil after Howard Hinnant): this runs
/// twice per task in every job answer and on every log line, and Foundation's ISO 8601
/// formatting dominated the profile of a 1,000-task job.
public enum UTCTime {
    /// `YYYY-MM-DDTHH:MM:SS.mmm`, followed by `Z` unless `zone` is false (the log's format).
    public static func string(milliseconds: Int64, zone: Bool = true) -> String {
        let (secondsOfEpoch, fraction) = (milliseconds.floorDivided(by: 1000), milliseconds.floorModulo(1000))
        let days = secondsOfEpoch.floorDivided(by: 86400)
        let secondOfDay = secondsOfEpoch.floorModulo(86400)
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        // Written as bytes into one buffer: built from padded Strings, each timestamp cost a
        // dozen small allocations (a profile of triggers found 1 % of their CPU here, for the
        // log lines' timestamps alone). 64 bytes hold any Int64 year.
        return String(unsafeUninitializedCapacity: 64) { buffer in
            var at = 0
            // `value` in `width` digits, zeros first; one that does not fit (a year past 9999
            // or before 0) keeps all its digits and sign, zeros first to `width`, as always.
            func put(_ value: Int64, _ width: Int) {
                var limit: Int64 = 1
                for _ in 0..<width { limit *= 10 }
                guard value >= 0 && value < limit else {
                    let digits = Array(String(value).utf8)
                    for _ in digits.count..<max(width, digits.count) { put(0x30) }
                    for digit in digits { put(digit) }
                    return
                }
                var value = value
                for i in stride(from: at + width - 1, through: at, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                at += width
            }
            func put(_ byte: UInt8) {
                buffer[at] = byte
                at += 1
            }
            put(year, 4)
            put(UInt8(ascii: "-"))
            put(month, 2)
            put(UInt8(ascii: "-"))
            put(day, 2)
            put(UInt8(ascii: "T"))
            put(secondOfDay / 3600, 2)
            put(UInt8(ascii: ":"))
            put(secondOfDay % 3600 / 60, 2)
            put(UInt8(ascii: ":"))
            put(secondOfDay % 60, 2)
            put(UInt8(ascii: "."))
            put(fraction, 3)
            if zone { put(UInt8(ascii: "Z")) }
            return at
        }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }

    /// The remainder of `floorDivided(by:)`, always in `0..<divisor` for a positive divisor.
    fileprivate func floorModulo(_ divisor: Int64) -> Int64 { self - self.floorDivided(by: divisor) * divisor }
}
