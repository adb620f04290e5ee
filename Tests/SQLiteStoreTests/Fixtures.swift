import Foundation
import JobStore

/// Shared test material: a job with a diamond of tasks.
enum Fixtures {
    /// Where every test clock starts (2023-11-14).
    static let epoch = Date(timeIntervalSince1970: 1_700_000_000)

    /// A job of pipeline `pipeline` with the diamond `extract → (left, right) → load`.
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
}
