import Foundation
import JobStore
import Locking

/// A clock the test sets by hand; stored timestamps are whole milliseconds.
final class TestClock: Sendable {
    private let current: Locked<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) { self.current = Locked(start) }

    func now() -> Date { self.current.withLock { $0 } }

    func advance(by seconds: TimeInterval) { self.current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

enum Fixtures {
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

    static func store(_ dir: TemporaryDirectory, clock: TestClock) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: dir.file("jobs.sqlite"), now: { clock.now() })
    }
}
