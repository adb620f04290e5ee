import Foundation
import JobStore
import Postgres

/// Writes a commit's task changes and job states with a few set-based statements instead of one
/// statement per task: an `UPDATE … FROM unnest(…)` per kind of change, with the values as
/// PostgreSQL array parameters. Why: a scheduling pass of a large DAG changes thousands of tasks,
/// and one `UPDATE` per task costs a round trip each (about 0.2–0.3 ms here, 2.6 s of a 10k-task
/// job's 3 s); the set-based statements do the same in tens of milliseconds.
///
/// Order is kept per task: a task changed twice in one commit (queued for a retry, then claimed
/// again) gets its changes in rounds, its first change in round 0, its second in round 1, and so
/// on; rounds run in order, and within a round every task appears once, so the outcome equals
/// applying the changes one by one (`RecordRules`).
struct TaskChangeBatch {
    private var rounds: [[(jobID: Int64, change: TaskChange)]] = []
    private var seen: [Key: Int] = [:]
    private var jobs: [(id: Int64, state: JobState)] = []

    private struct Key: Hashable {
        let job: Int64
        /// The task name's bytes: names are compared as bytes.
        let task: [UInt8]
    }

    /// Adds one job's update.
    mutating func add(_ update: JobUpdate) {
        for change in update.changes {
            let key = Key(job: update.jobID, task: Array(change.task.utf8))
            let round = self.seen[key, default: 0]
            self.seen[key] = round + 1
            if round == self.rounds.count { self.rounds.append([]) }
            self.rounds[round].append((update.jobID, change))
        }
        self.jobs.append((update.jobID, update.jobState))
    }

    /// Writes everything in the caller's transaction.
    /// - Throws: `JobStoreError` naming a task a job does not have (nothing is applied then: the
    ///   caller's transaction rolls back); `PostgresError`.
    func write(at now: Date, in db: PostgresConnection) throws {
        let nowMS = StoredTime.milliseconds(now)
        for round in self.rounds {
            try Self.running(round.filter { $0.change.state == .running }, now: nowMS, in: db)
            try Self.queued(round.filter { $0.change.state == .queued }, now: now, in: db)
            try Self.finished(round.filter { $0.change.state.isTerminal }, now: now, in: db)
        }
        guard !self.jobs.isEmpty else { return }
        try db.execute(
            """
            UPDATE jobs SET state = v.state, started_at = COALESCE(jobs.started_at, v.started_at), finished_at = v.finished_at
            FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) AS v(id, state, started_at, finished_at)
            WHERE jobs.id = v.id
            """,
            [
                .text(ArrayLiteral.integers(self.jobs.map(\.id))),
                .text(ArrayLiteral.texts(self.jobs.map { $0.state.rawValue })),
                .text(ArrayLiteral.integers(self.jobs.map { RecordRules.jobStartedAt($0.state, now: now).map(StoredTime.milliseconds) })),
                .text(ArrayLiteral.integers(self.jobs.map { RecordRules.jobFinishedAt($0.state, now: now).map(StoredTime.milliseconds) })),
            ])
        // Each job once, by the state it was left in (the last of its updates).
        var last: [Int64: JobState] = [:]
        for job in self.jobs { last[job.id] = job.state }
        try PostgresJobStore.keepOverviews(of: last.filter { $0.value.isTerminal }.keys.sorted(), in: db)
    }

    private static func running(_ entries: [(jobID: Int64, change: TaskChange)], now: Int64, in db: PostgresConnection) throws {
        guard !entries.isEmpty else { return }
        let result = try db.execute(
            """
            UPDATE tasks SET state = 'running', attempt = tasks.attempt + 1, pid = v.pid, started_at = $5, finished_at = NULL,
                exit_code = NULL, message = v.message, retry_at = NULL, attempts = \(PostgresJobStore.appendAttemptSQL)
            FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[]) AS v(job_id, name, pid, message)
            WHERE tasks.job_id = v.job_id AND tasks.name = v.name
            """,
            [
                .text(ArrayLiteral.integers(entries.map(\.jobID))), .text(ArrayLiteral.texts(entries.map(\.change.task))),
                .text(ArrayLiteral.integers(entries.map { $0.change.pid.map(Int64.init) })),
                .text(ArrayLiteral.texts(entries.map(\.change.message))), .int64(now),
            ])
        try Self.check(result, entries, in: db)
    }

    private static func queued(_ entries: [(jobID: Int64, change: TaskChange)], now: Date, in db: PostgresConnection) throws {
        guard !entries.isEmpty else { return }
        let result = try db.execute(
            """
            UPDATE tasks SET state = 'queued', message = v.message, retry_at = v.retry_at, finished_at = v.finished_at,
                exit_code = v.exit_code
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[])
                AS v(job_id, name, message, retry_at, finished_at, exit_code)
            WHERE tasks.job_id = v.job_id AND tasks.name = v.name
            """,
            [
                .text(ArrayLiteral.integers(entries.map(\.jobID))), .text(ArrayLiteral.texts(entries.map(\.change.task))),
                .text(ArrayLiteral.texts(entries.map(\.change.message))),
                .text(ArrayLiteral.integers(entries.map { $0.change.retryAt.map(StoredTime.milliseconds) })),
                .text(ArrayLiteral.integers(entries.map { RecordRules.taskFinishedAt($0.change, now: now).map(StoredTime.milliseconds) })),
                .text(ArrayLiteral.integers(entries.map { $0.change.exitCode.map(Int64.init) })),
            ])
        try Self.check(result, entries, in: db)
    }

    private static func finished(_ entries: [(jobID: Int64, change: TaskChange)], now: Date, in db: PostgresConnection) throws {
        guard !entries.isEmpty else { return }
        let result = try db.execute(
            """
            UPDATE tasks SET state = v.state, exit_code = v.exit_code, message = COALESCE(v.message, tasks.message),
                finished_at = v.finished_at, retry_at = NULL,
                attempts = CASE WHEN tasks.state = 'queued' THEN \(PostgresJobStore.appendAttemptSQL) ELSE tasks.attempts END,
                started_at = CASE WHEN tasks.state = 'queued' THEN NULL ELSE tasks.started_at END
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[])
                AS v(job_id, name, state, exit_code, message, finished_at)
            WHERE tasks.job_id = v.job_id AND tasks.name = v.name
            """,
            [
                .text(ArrayLiteral.integers(entries.map(\.jobID))), .text(ArrayLiteral.texts(entries.map(\.change.task))),
                .text(ArrayLiteral.texts(entries.map(\.change.state.rawValue))),
                .text(ArrayLiteral.integers(entries.map { $0.change.exitCode.map(Int64.init) })),
                .text(ArrayLiteral.texts(entries.map(\.change.message))),
                .text(ArrayLiteral.integers(entries.map { RecordRules.taskFinishedAt($0.change, now: now).map(StoredTime.milliseconds) })),
            ])
        try Self.check(result, entries, in: db)
    }

    /// Every entry must have matched its task (the entries of one statement name distinct
    /// tasks); otherwise names the first task that is missing.
    private static func check(_ result: PostgresResult, _ entries: [(jobID: Int64, change: TaskChange)], in db: PostgresConnection) throws {
        guard result.affectedRows != entries.count else { return }
        for entry in entries {
            let exists = try db.execute(
                "SELECT 1 FROM tasks WHERE job_id = $1 AND name = $2", [.int64(entry.jobID), .text(entry.change.task)])
            if exists.isEmpty { throw JobStoreError("job \(entry.jobID) has no task \(entry.change.task)") }
        }
        throw JobStoreError("a batch of task changes matched \(result.affectedRows) tasks, not \(entries.count)")
    }
}

/// PostgreSQL array literals for `unnest($n::type[])` parameters, sent as text.
enum ArrayLiteral {
    /// `{1,NULL,3}`.
    static func integers(_ values: [Int64?]) -> String {
        "{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
    }

    /// `{"a","b \"c\"",NULL}`: every element quoted, with `\` and `"` escaped by a backslash (the
    /// array input syntax), so commas, braces, spaces and the word NULL stay text.
    static func texts(_ values: [String?]) -> String {
        var out = "{"
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            guard let value else {
                out += "NULL"
                continue
            }
            out += "\""
            for character in value.unicodeScalars {
                if character == "\\" || character == "\"" { out += "\\" }
                out.unicodeScalars.append(character)
            }
            out += "\""
        }
        return out + "}"
    }
}
