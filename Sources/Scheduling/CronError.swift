/// Why a cron expression or a schedule's time zone was refused: a sentence for the person who
/// wrote it, naming the field.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. "hour field: 24 is out of range 0-23".
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { self.message }
}
