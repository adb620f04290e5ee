public import Foundation

/// The outcome a supervisor wrote to its status file (docs/supervisor.md, "The status file").
public struct SupervisorStatus: Sendable, Equatable {
    /// The attempt's run key, as the supervisor was given it.
    public var runKey: String
    /// The task's pid (and process group), if it was forked.
    public var taskPID: Int32?
    /// When the task was started.
    public var startedAt: Date
    /// When the task's leader was reaped (or its start failed).
    public var finishedAt: Date
    /// The exit status, if the task exited.
    public var exitStatus: Int32?
    /// The signal that killed the task, if one did.
    public var exitSignal: Int32?
    /// Whether the supervisor's timeout fired.
    public var timedOut: Bool
    /// The first stop signal the supervisor received (cancel, or Sluice stopping its tasks).
    public var stopSignal: Int32?
    /// Every byte of output read.
    public var logBytes: Int64
    /// Bytes left out between the log's head and tail.
    public var logOmitted: Int64
    /// Why the log could not be written to its end, if so.
    public var logFailure: String?
    /// The step that failed when the task could not start (`chdir`, `execve`, ...).
    public var spawnStep: String?
    /// The errno of `spawnStep`.
    public var spawnErrno: Int32?

    /// The exit code Sluice records: the exit status, or 128 + signal; nil if the task never ran.
    public var exitCode: Int32? {
        if let status = self.exitStatus { return status }
        if let signal = self.exitSignal { return 128 + signal }
        return nil
    }

    /// Why a status file was refused.
    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, naming the line or key.
        public let reason: String
        /// A refusal for `reason`.
        public init(_ reason: String) { self.reason = reason }
        public var description: String { "malformed supervisor status: \(self.reason)" }
    }

    /// Largest status file accepted: a real one is a few hundred bytes.
    static let maximumBytes = 64 * 1024

    /// Parses a status file's text.
    /// - Throws: `FormatError` for anything but the documented format: a missing `version=1`,
    ///   `run_key`, `started_at_ms`, `finished_at_ms`, `log_bytes` or `log_omitted`; a number that
    ///   does not parse, or is negative (only the two times may be); a value that is not UTF-8; a
    ///   repeated or unknown key; a line without `=` or without its final newline (a torn write);
    ///   both or neither of exit status and spawn error.
    public init(parsing bytes: [UInt8]) throws(FormatError) {
        guard bytes.count <= Self.maximumBytes else { throw FormatError("larger than \(Self.maximumBytes) bytes") }
        guard bytes.last == UInt8(ascii: "\n") else { throw FormatError("does not end with a newline") }
        var values: [String: String] = [:]
        for line in bytes.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                throw FormatError("line without '=': \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            let key = String(decoding: line[..<equals], as: UTF8.self)
            guard Self.keys.contains(where: { $0.utf8.elementsEqual(key.utf8) }) else { throw FormatError("unknown key \(key)") }
            guard values[key] == nil else { throw FormatError("repeated key \(key)") }
            // Validated, not decoded with replacement: a run key must come back byte for byte.
            guard let value = String(validating: line[line.index(after: equals)...], as: UTF8.self) else {
                throw FormatError("\(key) is not UTF-8")
            }
            values[key] = value
        }
        guard values["version"].map({ $0.utf8.elementsEqual("1".utf8) }) == true else {
            throw FormatError("version is \(values["version"] ?? "missing"), expected 1")
        }
        func required(_ key: String) throws(FormatError) -> String {
            guard let value = values[key] else { throw FormatError("\(key) missing") }
            return value
        }
        func number<T: FixedWidthInteger>(_ key: String, _: T.Type, signed: Bool = false) throws(FormatError) -> T? {
            guard let text = values[key] else { return nil }
            // Digits only (a leading '-' only where `signed`): Int("+5") and similar are not the
            // format, and a negative pid, status, signal, errno or byte count is not either.
            guard !text.isEmpty, text.utf8.enumerated().allSatisfy({ $1 >= 48 && $1 <= 57 || (signed && $0 == 0 && $1 == 45) }),
                let value = T(text)
            else { throw FormatError("\(key) is not a number: \(text.prefix(40))") }
            return value
        }
        self.runKey = try required("run_key")
        self.taskPID = try number("task_pid", Int32.self)
        // Times may be negative: a clock set before 1970 is wrong, but the outcome still counts.
        guard let started = try number("started_at_ms", Int64.self, signed: true) else { throw FormatError("started_at_ms missing") }
        guard let finished = try number("finished_at_ms", Int64.self, signed: true) else { throw FormatError("finished_at_ms missing") }
        self.startedAt = Date(timeIntervalSince1970: Double(started) / 1000)
        self.finishedAt = Date(timeIntervalSince1970: Double(finished) / 1000)
        self.exitStatus = try number("exit_status", Int32.self)
        self.exitSignal = try number("exit_signal", Int32.self)
        self.timedOut = try number("timed_out", Int.self).map { $0 != 0 } ?? false
        self.stopSignal = try number("stop_signal", Int32.self)
        guard let logBytes = try number("log_bytes", Int64.self) else { throw FormatError("log_bytes missing") }
        guard let logOmitted = try number("log_omitted", Int64.self) else { throw FormatError("log_omitted missing") }
        self.logBytes = logBytes
        self.logOmitted = logOmitted
        self.logFailure = values["log_failure"]
        self.spawnStep = values["spawn_error"]
        self.spawnErrno = try number("spawn_errno", Int32.self)
        let outcomes = [self.exitStatus != nil, self.exitSignal != nil, self.spawnStep != nil].filter { $0 }.count
        guard outcomes == 1 else { throw FormatError("expected exactly one of exit_status, exit_signal and spawn_error") }
        guard (self.spawnStep == nil) == (self.spawnErrno == nil) else { throw FormatError("spawn_error and spawn_errno come together") }
    }

    /// Reads and parses the status file at `path`.
    /// - Returns: nil if there is no such file (the supervisor has not finished, or never ran).
    /// - Throws: `FormatError` if it exists but cannot be read or parsed.
    public static func read(path: String) throws(FormatError) -> SupervisorStatus? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw FormatError("cannot read \(path)") }
            return nil
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: Self.maximumBytes + 1) ?? Data() } catch {
            throw FormatError("cannot read \(path): \(error)")
        }
        return try SupervisorStatus(parsing: [UInt8](data))
    }

    /// Every key the format knows, in file order.
    static let keys = [
        "version", "run_key", "task_pid", "started_at_ms", "finished_at_ms", "exit_status", "exit_signal", "timed_out", "stop_signal",
        "log_bytes", "log_omitted", "log_failure", "spawn_error", "spawn_errno",
    ]
}
