import Foundation
import JobStore
import TestSupport
import Testing

/// Shared test material: a job with a diamond of tasks, and helpers over any store.
enum Fixtures {
    /// Where every test clock starts (2023-11-14); stored timestamps are whole milliseconds.
    static let epoch = Date(timeIntervalSince1970: 1_700_000_000)

    /// A job of pipeline `pipeline` with the diamond `extract → (left, right) → load`, listed in
    /// an order that is neither alphabetical nor topological.
    static func job(pipeline: String = "etl", params: [String: String] = ["date": "2024-05-01"]) -> NewJob {
        NewJob(
            pipeline: pipeline, triggeredBy: "alice", identitySource: "remote_user", params: params,
            workingDirectory: "/srv/etl",
            tasks: [
                TaskRecord(name: "load", needs: ["left", "right"], argv: ["./load", "--env", "prod"]),
                TaskRecord(name: "extract", needs: [], argv: ["./extract", "--date", "2024-05-01"]),
                TaskRecord(name: "right", needs: ["extract"], argv: ["./right"]),
                TaskRecord(name: "left", needs: ["extract"], argv: ["./left"]),
            ])
    }

    /// Arrays of strings that stress the array encoding: separators, quotes, backslashes,
    /// brackets, empty strings, control characters.
    static let awkwardArrays: [[String]] = [
        [], [""], ["", ""], ["", "", ""], ["[]"], ["[", "]"], ["[\"x\"]"], ["\",\""], [","], [",", ","], ["a\",\"b", "c"],
        ["a\", \"b"], ["x\\", "\\y"], ["\\"], ["\\\",\\\""], ["\"]", "[\""], ["\""], ["\"\""], ["plain", "also plain", "ü ✓ 🚀"],
        ["a", "b", "c"], ["new\nline", "tab\there", "\r"], ["\u{1}", "\u{1F}"], ["\u{7F}", "\u{2028}\u{2029}"], ["]", "["],
        ["\",", ",\""], ["/bin/sh", "-c", "echo \"$1\" | sed 's/\\\\/x/'"], ["a\"", "b"], ["a", "\"b"], ["null"], ["[\"\"]"],
    ]

    /// The job a submission created; records an issue and throws otherwise.
    static func created(_ submission: Submission, sourceLocation: SourceLocation = #_sourceLocation) throws -> JobRecord {
        guard case .created(let job) = submission else {
            Issue.record("expected a new job, got \(submission)", sourceLocation: sourceLocation)
            throw JobStoreError("not created")
        }
        return job
    }

    /// How many jobs the store holds (up to 1000).
    static func count(_ store: any JobStore) throws -> Int { try store.jobs(JobQuery(limit: 1000)).count }

    /// Finishes every task of `job` in `state` (succeeded, failed or cancelled).
    static func finish(_ store: any JobStore, _ job: JobRecord, as state: JobState = .succeeded) throws {
        let taskState: TaskState =
            switch state {
            case .failed: .failed
            case .cancelled: .cancelled
            default: .succeeded
            }
        try store.record(jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: taskState) }, jobState: state)
    }

    /// An audit record of `event`.
    static func audit(
        _ event: String, allowed: Bool = true, user: String? = "bob", pipeline: String? = "etl", at: Date = Date()
    ) -> AuditRecord {
        AuditRecord(
            at: at, event: event, allowed: allowed, user: user, identitySource: "remote_user", pipeline: pipeline, jobID: nil,
            reason: "because", requestID: "r1", clientAddress: "127.0.0.1", configHash: "abc")
    }
}

extension JobRecord {
    /// The task called `name`.
    func task(_ name: String) -> TaskRecord? { self.tasks.first { $0.name == name } }
}

/// The exact bytes of strings: `String ==` is canonical equivalence, the store compares bytes.
func bytes(_ strings: [String]) -> [[UInt8]] { strings.map { Array($0.utf8) } }
