import Foundation
import JSON
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// A small structured logger writing one JSON object per line to standard error.
///
/// The message is a constant; data goes in metadata under dotted lower-case keys
/// (`job.id`, `request.id`). Values are JSON-escaped, so control characters in user-supplied
/// values cannot forge log lines. Never pass tokens, passwords or assertion headers.
public struct Logger: Sendable {
    /// Severity of a record.
    public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var description: String { ["debug", "info", "warning", "error"][self.rawValue] }
    }

    /// The component that logs, e.g. `fastcgi` or `runner`.
    public let label: String

    /// Records below this level are dropped. Set once at start-up from `SLUICE_LOG_LEVEL`.
    public static let minimumLevel: Level = {
        switch ProcessInfo.processInfo.environment["SLUICE_LOG_LEVEL"] {
        case "debug": .debug
        case "warning": .warning
        case "error": .error
        default: .info
        }
    }()

    private static let sink = Locked<Int32>(STDERR_FILENO)

    /// Creates a logger for a component.
    public init(label: String) { self.label = label }

    /// Logs at `debug`.
    public func debug(_ message: String, _ metadata: [String: String] = [:]) { self.log(.debug, message, metadata) }
    /// Logs at `info`.
    public func info(_ message: String, _ metadata: [String: String] = [:]) { self.log(.info, message, metadata) }
    /// Logs at `warning`.
    public func warning(_ message: String, _ metadata: [String: String] = [:]) { self.log(.warning, message, metadata) }
    /// Logs at `error`.
    public func error(_ message: String, _ metadata: [String: String] = [:]) { self.log(.error, message, metadata) }

    /// Logs a record at `level`: one JSON object with the members sorted by name (as bytes).
    ///
    /// Written with `JSONWriter`, not `JSONSerialization`: with sorted keys, Foundation compared
    /// the keys through ICU collation and bridged every value, which made logging a fifth of
    /// the CPU time of a trigger.
    public func log(_ level: Level, _ message: String, _ metadata: [String: String]) {
        guard level >= Self.minimumLevel else { return }
        var line = Self.line(level: level, label: self.label, message: message, metadata: metadata, timestamp: Self.timestamp())
        line.append(UInt8(ascii: "\n"))
        // write(2) straight from the bytes, under the lock so lines never interleave: through
        // FileHandle each line was first copied into a Data (a profile of triggers, which log
        // three lines each, found 5 % of their CPU in logging). A failed write (stderr closed)
        // loses the line and nothing else, as before.
        Self.sink.withLock { fd in Self.write(line, to: fd) }
    }

    /// Writes all of `bytes` to `fd` (write(2) again after a partial write or EINTR); gives up
    /// silently on any other error: a log line that cannot be written is lost, nothing else.
    static func write(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// One record as JSON text (without the newline): `metadata` plus `ts`, `level`, `logger`
    /// and `msg`, sorted by name as bytes; the record's own members win over metadata of the
    /// same name. Every value is a JSON string with control characters escaped, so a value
    /// cannot end the line or forge another record.
    static func line(level: Level, label: String, message: String, metadata: [String: String], timestamp: String) -> [UInt8] {
        var members: [(key: String, value: String)] = []
        members.reserveCapacity(metadata.count + 4)
        for (key, value) in metadata where !Self.reserved.contains(where: { $0.utf8.elementsEqual(key.utf8) }) {
            members.append((key, value))
        }
        members.append(("ts", timestamp))
        members.append(("level", level.description))
        members.append(("logger", label))
        members.append(("msg", message))
        members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var writer = JSONWriter(capacity: 128 + message.utf8.count)
        writer.object { w in
            for member in members {
                w.key(member.key)
                w.string(member.value)
            }
        }
        return writer.bytes
    }

    /// The members every record has; metadata under these names is dropped (the record's own win).
    private static let reserved = ["ts", "level", "logger", "msg"]

    /// Now in UTC as `2026-12-04T08:14:01.374` (milliseconds, no zone: the format the log has
    /// always had), from `clock_gettime` and `UTCTime` rather than a Foundation date format.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UTCTime.string(milliseconds: Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000, zone: false)
    }
}
