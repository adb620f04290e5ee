public import Foundation
import JSON

/// An earlier attempt of a task: one that ended and was followed by another (a retry by the
/// task's policy, a restart that interrupted it, or a person's retry of the job). The task's
/// latest attempt stays in ``TaskRecord``'s own fields; these are kept so the job page can draw
/// every attempt and the waits between them.
public struct PastAttempt: Sendable, Hashable {
    /// Its number, from 1.
    public var attempt: Int
    /// When its process started.
    public var startedAt: Date
    /// When it ended, if known.
    public var finishedAt: Date?
    /// Its exit status (128 + signal when killed), if it had one.
    public var exitCode: Int32?
    /// The note it ended with (why it failed, or that a restart interrupted it).
    public var message: String?
    /// The task's state when the next attempt replaced it: `queued` when it was retried by its
    /// policy (it failed or was interrupted), `failed` or `cancelled` when a person retried the job.
    public var state: TaskState

    /// How it ended, as people read it: `failed` for one its policy retried (recorded while the
    /// task was `queued` again), else `state`.
    public var outcome: TaskState { self.state == .queued ? .failed : self.state }

    /// Creates a record.
    public init(attempt: Int, startedAt: Date, finishedAt: Date?, exitCode: Int32?, message: String?, state: TaskState) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.message = message
        self.state = state
    }
}

/// The stored text of a task's earlier attempts: a JSON array with one array per attempt,
/// `[attempt, started_ms, finished_ms|null, exit_code|null, message|null, state]`, oldest first.
/// The stores append to it inside the statement that starts the next attempt (SQLite's
/// `json_insert`, PostgreSQL's `jsonb ||`), so it costs nothing for a task that runs once.
public enum PastAttemptsColumn {
    /// The attempts `text` holds; none for NULL or `[]`. Throws `JobStoreError` if it is not that shape.
    public static func decode(_ text: String?) throws -> [PastAttempt] {
        guard let text, text != "[]" else { return [] }
        guard case .array(let entries) = try? JSONValue.parse(Data(text.utf8)) else {
            throw JobStoreError("malformed attempt history")
        }
        return try entries.map { entry in
            guard case .array(let fields) = entry, fields.count == 6, let attempt = fields[0].wholeNumber,
                let started = fields[1].wholeNumber, case .string(let stateText) = fields[5],
                let state = TaskState(rawValue: stateText)
            else { throw JobStoreError("malformed attempt history") }
            var message: String? = nil
            if case .string(let text) = fields[4] { message = text }
            return PastAttempt(
                attempt: Int(attempt), startedAt: StoredTime.date(milliseconds: started),
                finishedAt: fields[2].wholeNumber.map(StoredTime.date(milliseconds:)),
                exitCode: fields[3].wholeNumber.map { Int32(truncatingIfNeeded: $0) }, message: message, state: state)
        }
    }
}

extension JSONValue {
    /// A JSON number that is a whole number within ±2⁵³, as an integer; nil for anything else.
    /// What the stored JSON columns (`PastAttemptsColumn`, `JobOverviewColumn`) accept.
    var wholeNumber: Int64? {
        guard case .number(let number) = self, number.isFinite, abs(number) <= 9_007_199_254_740_992,
            number.rounded(.towardZero) == number
        else { return nil }
        return Int64(number)
    }
}
