public import JobStore
import SQLite

/// The overviews of large finished jobs (`JobOverview`): kept when such a job finishes, read by
/// its page.
extension SQLiteJobStore {
    public func jobOverview(id: Int64) throws -> JobOverview? {
        try self.read { db in
            try db.transaction(immediate: false) {
                guard let text = try db.query("SELECT overview FROM job_overviews WHERE job_id = ?", [.integer(id)]).first?[0].text,
                    let row = try db.query("SELECT * FROM jobs WHERE id = ?", [.integer(id)]).first
                else { return nil }
                let stored = try JobOverviewColumn.decode(text)
                // By primary key; a variable IN list, so not kept in the statement cache.
                let rows =
                    stored.ranked.isEmpty
                    ? []
                    : try db.query(
                        """
                        SELECT \(Self.taskColumns) FROM tasks WHERE job_id = ? AND name IN (\(stored.ranked.map { _ in "?" }.joined(separator: ",")))
                        ORDER BY \(JobOverview.rankSQL), position
                        """, [.integer(id)] + stored.ranked.map(SQLValue.text), cached: false)
                guard rows.count == stored.ranked.count else { throw JobStoreError("job overview of job \(id) names missing tasks") }
                return JobOverview(
                    job: try Self.job(from: row), taskCount: stored.taskCount, failedCount: stored.failedCount, tallies: stored.tallies,
                    rows: try rows.map(Self.task(from:)))
            }
        }
    }

    /// Keeps the overview of a job that just finished, if its tasks have layers (`JobOverview`),
    /// inside the caller's transaction. Two scans of the job's tasks, once per job: for 100,000
    /// tasks about what one page view of them costs without it.
    static func keepOverview(of jobID: Int64, in db: Connection) throws {
        // Every task of a job has a layer or none has: the first row tells.
        guard try db.query("SELECT layer FROM tasks WHERE job_id = ? LIMIT 1", [.integer(jobID)]).first?[0].int64 != nil else {
            return
        }
        let tallies = try db.query(
            """
            SELECT layer, state, count(*), sum(max(attempt - 1, 0)),
                min(coalesce(json_extract(attempts, '$[0][1]'), started_at, CASE WHEN state = 'succeeded' THEN finished_at END)),
                max(finished_at)
            FROM tasks WHERE job_id = ? GROUP BY layer, state ORDER BY layer, state
            """, [.integer(jobID)]
        ).map { row in
            guard let layer = row[0].int64, let state = row[1].text.flatMap(TaskState.init(rawValue:)), let tasks = row[2].int64 else {
                throw JobStoreError("malformed task layer of job \(jobID)")
            }
            return LayerTally(
                layer: Int(layer), state: state, tasks: Int(tasks), retries: Int(row[3].int64 ?? 0),
                firstStart: row[4].int64.map(StoredTime.date(milliseconds:)), lastEnd: row[5].int64.map(StoredTime.date(milliseconds:)))
        }
        let ranked = try db.query(
            "SELECT name FROM tasks WHERE job_id = ? ORDER BY \(JobOverview.rankSQL), position LIMIT \(JobOverview.rankedLimit)",
            [.integer(jobID)]
        ).compactMap { $0[0].text }
        let stored = JobOverviewColumn.Stored(tallies: tallies, ranked: ranked)
        try db.run(
            "INSERT OR REPLACE INTO job_overviews (job_id, overview) VALUES (?, ?)",
            [.integer(jobID), .text(JobOverviewColumn.encode(stored))])
    }
}
