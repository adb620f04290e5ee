import Foundation
import TestSupport

/// The JSON representation of a job (`GET /api/v1/jobs/{id}`), decoded strictly: a field the contract
/// requires that is missing or of the wrong type fails the test that decodes it.
struct JobDocument: Decodable, Sendable {
    /// One task of the job.
    struct TaskEntry: Decodable, Sendable {
        /// The task's name in the pipeline.
        let name: String
        /// `queued`, `running`, `succeeded`, `failed`, `skipped` or `cancelled`.
        let state: String
        /// Names of the tasks this one waits for.
        let needs: [String]
        /// The process's exit code, once it has one.
        let exitCode: Int?
        /// ISO 8601 start time, once started.
        let startedAt: String?
        /// ISO 8601 end time, once finished.
        let finishedAt: String?
    }

    /// The job id, also the last path component of its `Location`.
    let id: Int
    /// The pipeline's name.
    let pipeline: String
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    let state: String
    /// The identity that triggered the job.
    let triggeredBy: String
    /// The job's parameters.
    let params: [String: String]
    /// ISO 8601 creation time.
    let createdAt: String
    /// ISO 8601 start time, once started.
    let startedAt: String?
    /// ISO 8601 end time, once finished.
    let finishedAt: String?
    /// The tasks, in the order the server lists them.
    let tasks: [TaskEntry]

    /// Whether the job will not change any more.
    var isFinished: Bool { ["succeeded", "failed", "cancelled"].contains(self.state) }

    /// The task with this name, if the job has one.
    func task(_ name: String) -> TaskEntry? {
        self.tasks.first { $0.name == name }
    }

    /// A one-line summary for failure messages, e.g. `job 7 failed [a:succeeded b:failed(1)]`.
    var summary: String {
        let tasks = self.tasks.map { "\($0.name):\($0.state)" + ($0.exitCode.map { "(\($0))" } ?? "") }
        return "job \(self.id) \(self.pipeline) \(self.state) [\(tasks.joined(separator: " "))]"
    }

    /// Decodes a job from a response body.
    /// - Throws: `DecodingError` if the body does not match the contract.
    static func decode(_ body: [UInt8]) throws -> JobDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(JobDocument.self, from: Data(body))
    }

    /// Parses an ISO 8601 timestamp, with or without fractional seconds (of any precision).
    static func date(_ text: String?) -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let dot = text.firstIndex(of: ".") else { return formatter.date(from: text) }
        // ISO8601DateFormatter's fractional-seconds option does not take every precision, so parse
        // "2025-01-02T03:04:05.123456Z" as "2025-01-02T03:04:05Z" plus 0.123456 s.
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
        let zone = text[text.index(after: dot)...].dropFirst(digits.count)
        guard let whole = formatter.date(from: String(text[..<dot]) + zone),
            let fraction = Double("0." + digits)
        else { return nil }
        return whole.addingTimeInterval(fraction)
    }
}

extension HTTPClient {
    /// Polls `GET location` (a job's API URL) as `user` every `interval` until `condition` holds
    /// for the job or `timeout` passes.
    /// - Returns: The job (nil if the time ran out), and the last answer seen, for the message.
    func pollJob(
        at location: String, as user: String?, timeout: Duration, every interval: Duration = .milliseconds(100),
        until condition: (JobDocument) -> Bool
    ) async throws -> (job: JobDocument?, last: String) {
        var last = "no answer"
        let job = try await Poll.value(within: timeout, every: interval) { () -> JobDocument? in
            let response = try self.send("GET", location, as: user)
            guard response.status == 200 else {
                last = response.description
                return nil
            }
            let job = try JobDocument.decode(response.body)
            last = job.summary
            return condition(job) ? job : nil
        }
        return (job, last)
    }
}
