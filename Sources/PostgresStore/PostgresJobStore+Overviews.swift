public import JobStore
import Postgres

/// The overviews of large finished jobs (`JobOverview`): kept when such a job finishes, read by
/// its page.
extension PostgresJobStore {
    public func jobOverview(id: Int64) throws -> JobOverview? {
        try self.read { db in
            try db.transaction(isolation: .repeatableRead) {
                guard let text = try db.execute("SELECT overview FROM job_overviews WHERE job_id = $1", [.int64(id)]).first?.string(0),
                    let row = try db.execute("SELECT * FROM jobs WHERE id = $1", [.int64(id)]).first
                else { return nil }
                let stored = try JobOverviewColumn.decode(text)
                let rows = try db.execute(
                    "SELECT * FROM tasks WHERE job_id = $1 AND name = ANY($2::text[]) ORDER BY \(JobOverview.rankSQL), position",
                    [.int64(id), .text(ArrayLiteral.texts(stored.ranked))])
                guard rows.count == stored.ranked.count else { throw JobStoreError("job overview of job \(id) names missing tasks") }
                return JobOverview(
                    job: try Self.job(from: row), taskCount: stored.taskCount, failedCount: stored.failedCount, tallies: stored.tallies,
                    rows: try rows.map(Self.task(from:)))
            }
        }
    }

    /// Keeps the overview of each job in `ids` that just finished and whose tasks have layers
    /// (`JobOverview`), inside the caller's transaction: two scans of each such job's tasks,
    /// once per job.
    ///
    /// The overview is a summary the page can do without (it then reads every task): whatever
    /// keeps it from being written (a task without a layer, a role without the grant on
    /// `job_overviews`) is undone to a savepoint instead of failing the commit of the jobs' ends,
    /// which the runner would retry forever. An error that leaves no transaction to go on with
    /// (a lost connection) still throws.
    static func keepOverviews(of ids: [Int64], in db: PostgresConnection) throws {
        for jobID in ids {
            try db.execute("SAVEPOINT keep_overview")
            do {
                try Self.keepOverview(of: jobID, in: db)
                try db.execute("RELEASE SAVEPOINT keep_overview")
            } catch {
                try db.execute("ROLLBACK TO SAVEPOINT keep_overview")
            }
        }
    }

    /// Keeps one job's overview, if its tasks have layers, in the caller's transaction.
    private static func keepOverview(of jobID: Int64, in db: PostgresConnection) throws {
        // Every task of a job has a layer or none has: one row tells.
        guard try db.execute("SELECT layer FROM tasks WHERE job_id = $1 LIMIT 1", [.int64(jobID)]).first?.int64(0) != nil else {
            return
        }
        let tallies = try db.execute(
            """
            SELECT layer, state, count(*), sum(greatest(attempt - 1, 0)),
                min(coalesce((attempts->0->>1)::bigint, started_at, CASE WHEN state = 'succeeded' THEN finished_at END)),
                max(finished_at)
            FROM tasks WHERE job_id = $1 GROUP BY layer, state ORDER BY layer, state
            """, [.int64(jobID)]
        ).map { row in
            guard let layer = try row.int64(0), let state = try row.string(1).flatMap(TaskState.init(rawValue:)),
                let tasks = try row.int64(2)
            else { throw JobStoreError("malformed task layer of job \(jobID)") }
            return LayerTally(
                layer: Int(layer), state: state, tasks: Int(tasks), retries: Int(try row.int64(3) ?? 0),
                firstStart: try row.int64(4).map(StoredTime.date(milliseconds:)),
                lastEnd: try row.int64(5).map(StoredTime.date(milliseconds:)))
        }
        let ranked = try db.execute(
            "SELECT name FROM tasks WHERE job_id = $1 ORDER BY \(JobOverview.rankSQL), position LIMIT \(JobOverview.rankedLimit)",
            [.int64(jobID)]
        ).compactMap { try $0.string(0) }
        let stored = JobOverviewColumn.Stored(tallies: tallies, ranked: ranked)
        try db.execute(
            """
            INSERT INTO job_overviews (job_id, overview) VALUES ($1, $2)
            ON CONFLICT (job_id) DO UPDATE SET overview = excluded.overview
            """, [.int64(jobID), .text(JobOverviewColumn.encode(stored))])
    }
}
