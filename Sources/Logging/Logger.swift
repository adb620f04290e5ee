import Foundation
import Locking

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

    private static let sink = Locked<FileHandle>(FileHandle.standardError)

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

    /// Logs a record at `level`.
    public func log(_ level: Level, _ message: String, _ metadata: [String: String]) {
        guard level >= Self.minimumLevel else { return }
        var record: [String: String] = metadata
        record["ts"] = Date().ISO8601Format(.iso8601.time(includingFractionalSeconds: true).year().month().day())
        record["level"] = level.description
        record["logger"] = self.label
        record["msg"] = message
        guard var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) else { return }
        line.append(UInt8(ascii: "\n"))
        Self.sink.withLock { $0.write(line) }
    }
}
