public import Foundation

/// Times as every store keeps them: whole milliseconds since the Unix epoch. A date read back is
/// `milliseconds / 1000` seconds, so what a store returns for a date it was given is
/// `StoredTime.rounded(date)` whichever database it uses.
public enum StoredTime {
    /// `date` in whole milliseconds since the Unix epoch (rounded to the nearest).
    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The date `milliseconds` after the Unix epoch.
    public static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// `date` as it reads back from a store.
    public static func rounded(_ date: Date) -> Date { Self.date(milliseconds: Self.milliseconds(date)) }
}
