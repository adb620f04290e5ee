import Foundation
import JSON
import Testing

/// `UTCTime.string` against Foundation's own formatting of the same instants.
@Suite("UTC timestamps")
struct UTCTimeTests {
    /// Foundation's `yyyy-MM-dd'T'HH:mm:ss.SSS` in UTC (the reference).
    static func reference(_ milliseconds: Int64, zone: Bool) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.dateFormat = zone ? "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" : "yyyy-MM-dd'T'HH:mm:ss.SSS"
        // From whole seconds plus the milliseconds' fraction, so a Double cannot round the
        // milliseconds differently.
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let fraction = milliseconds - seconds * 1000
        let padded = String(repeating: "0", count: 3 - String(fraction).count) + String(fraction)
        return text.replacingOccurrences(of: ".000", with: "." + padded)
    }

    @Test("Edges: the epoch, just before it, leap days, the ends of years and of the four-digit range")
    func edges() {
        #expect(UTCTime.string(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCTime.string(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(UTCTime.string(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(UTCTime.string(milliseconds: 1_709_251_199_999, zone: false) == "2024-02-29T23:59:59.999")
        #expect(UTCTime.string(milliseconds: 4_107_542_399_999) == "2100-02-28T23:59:59.999Z")
        #expect(UTCTime.string(milliseconds: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        // Past the format's four digits the year keeps its digits (as it always did).
        #expect(UTCTime.string(milliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
        #expect(UTCTime.string(milliseconds: -62_167_219_200_000) == "0000-01-01T00:00:00.000Z")
    }

    @Test("2,000 random instants between 1900 and 2200 format as Foundation formats them")
    func againstFoundation() {
        var generator = SystemRandomNumberGenerator()
        for i in 0..<2_000 {
            let milliseconds = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)
            let zone = i % 2 == 0
            #expect(UTCTime.string(milliseconds: milliseconds, zone: zone) == Self.reference(milliseconds, zone: zone), "\(milliseconds)")
        }
    }
}
