/// How a supervised task ended, and how much of its output the log kept.
public struct TaskOutcome: Sendable, Equatable {
    /// The exit status, or 128 + signal when the task was killed; -1 if it could not be reaped.
    public let exitCode: Int32
    /// Every byte of stdout and stderr the task produced (that was read before `supervise`
    /// returned), whether it was kept in the log or not.
    public let bytesWritten: Int64
    /// The bytes left out of the log between its head and its tail; 0 if the log is complete.
    public let bytesOmitted: Int64
    /// Why the log could not be written to the end (a full disk, an I/O error), if so; the log
    /// then ends with a `[sluice: log cut here: …]` line.
    public let logFailure: String?

    /// Describes an outcome; `TaskProcess.supervise` makes these.
    public init(exitCode: Int32, bytesWritten: Int64, bytesOmitted: Int64, logFailure: String? = nil) {
        self.exitCode = exitCode
        self.bytesWritten = bytesWritten
        self.bytesOmitted = bytesOmitted
        self.logFailure = logFailure
    }
}
