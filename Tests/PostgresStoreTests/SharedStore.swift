import Foundation
import JobStore
import Locking
import Postgres
import PostgresStore
import TestSupport
import Testing

/// A fresh schema for one shared-store test: a store per host (each host of a real deployment
/// opens its own, with its own pool), a raw connection to look behind the stores' backs, and
/// jobs of one task `t`.
struct SharedStore {
    let schema: TestSchema
    /// The first store (any host may use it; tests that need hosts apart use `host()`).
    let store: PostgresJobStore
    /// A connection of its own with the schema as `search_path`.
    let db: PostgresConnection

    /// Who owns a job, as stored.
    struct Owner: Equatable, CustomStringConvertible {
        var host: String?
        var epoch: Int64?

        var description: String { "\(self.host ?? "nil")#\(self.epoch.map(String.init) ?? "nil")" }
    }

    /// Creates the schema and opens the first store.
    init() throws {
        self.schema = try TestSchema()
        self.store = try self.schema.store(poolSize: 4)
        self.db = try self.schema.connect()
    }

    /// Another store on the same schema, as a second host opens it.
    func host() throws -> PostgresJobStore { try self.schema.store(poolSize: 2) }

    /// Drops the schema.
    func drop() {
        self.store.close()
        self.db.close()
        self.schema.drop()
    }

    /// A job of one task `t` in `pipeline`, with `identity`.
    static func newJob(_ pipeline: String = "etl", identity: String = "") -> NewJob {
        NewJob(
            pipeline: pipeline, triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/srv",
            tasks: [TaskRecord(name: "t", needs: [], argv: ["/bin/true"])], identity: identity)
    }

    /// Submits a job and returns its id; with `queue` it waits for earlier jobs of its identity
    /// (`on_duplicate: queue`).
    @discardableResult
    func submit(_ pipeline: String = "etl", identity: String = "", queue: Bool = false) throws -> Int64 {
        let submission = try self.store.submit(
            Self.newJob(pipeline, identity: identity), rules: SubmissionRules(onDuplicate: queue ? .queue : .allow))
        guard case .created(let job) = submission else { throw JobStoreError("not created: \(submission)") }
        return job.id
    }

    /// Submits `count` jobs of `pipeline` and returns their ids in order.
    func submit(_ count: Int, _ pipeline: String = "etl") throws -> [Int64] {
        try (0..<count).map { _ in try self.submit(pipeline) }
    }

    /// The owner of job `id` as stored.
    func owner(of id: Int64) throws -> Owner {
        let row = try #require(try self.db.execute("SELECT owner, owner_epoch FROM jobs WHERE id = $1", [.int64(id)]).first)
        return Owner(host: try row.string("owner"), epoch: try row.int64("owner_epoch"))
    }

    /// The unfinished jobs owned by any host, of `pipeline` (compared as bytes).
    func ownedUnfinished(_ pipeline: String) throws -> Int {
        Int(
            try self.db.execute(
                "SELECT count(*) FROM jobs WHERE owner IS NOT NULL AND state IN ('queued','running') AND pipeline = $1", [.text(pipeline)]
            ).first?.int64(0) ?? -1)
    }

    /// Ends `host`'s lease now, behind the store's back (as if its renewals had stopped long
    /// ago), so a test need not wait for the clock.
    func expire(_ host: String) throws {
        try self.db.execute(
            "UPDATE hosts SET lease_expires_at = (extract(epoch from clock_timestamp()) * 1000)::bigint - 1 WHERE id = $1",
            [.text(host)])
    }

    /// Runs `body(0)`, ..., `body(count - 1)` each on a thread of its own, all at once, and
    /// waits for them. Not `DispatchQueue.concurrentPerform`, which runs at most about one
    /// iteration per CPU at a time: on a small machine an iteration the others wait for (a
    /// submitter, a monitor) might not start until they end.
    /// - Returns: what the bodies threw, as text.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread {
                defer { group.leave() }
                do { try body(i) } catch { failures.withLock { $0.append("thread \(i): \(error)") } }
            }.start()
        }
        group.wait()
        return failures.withLock { $0 }
    }

    /// The update that starts task `t` (pid 4242).
    static func start(_ id: Int64) -> JobUpdate {
        JobUpdate(jobID: id, changes: [TaskChange(task: "t", state: .running, pid: 4242)], jobState: .running)
    }

    /// The update that finishes task `t` in `state`, and so the job (`JobState.derived`).
    static func finish(_ id: Int64, _ state: TaskState = .succeeded) -> JobUpdate {
        JobUpdate(
            jobID: id, changes: [TaskChange(task: "t", state: state, exitCode: state == .succeeded ? 0 : 1)],
            jobState: JobState.derived(from: [state]))
    }
}
