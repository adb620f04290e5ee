public import Foundation
public import JobStore
import Locking
import SQLite
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The SQLite implementation of `JobStore`: WAL mode, `synchronous=FULL`, one writer connection
/// and a small pool of reader connections (WAL lets readers run beside the writer).
///
/// It gathers what the shared rules need inside its transactions and carries out what they decide
/// (`SubmissionDecision`, `RecordRules`, `JobRetry`), and stores columns in the shared encodings
/// (`StringArrayColumn`, `ParamsColumn`, `TaskOptionsColumn`, `StoredTime`, `AuditDecisionColumn`).
public final class SQLiteJobStore: JobStore {
    private let path: String
    private let writer: Locked<Connection>
    /// Every write transaction's turn at `writer` (`write`): writes that arrive while a commit is
    /// under way are committed together in the next transaction, each inside its own savepoint,
    /// with one fsync. Why: a profile under trigger load found the writer busy all the time with
    /// commits of about 0.7 ms each, half of them the runner's task updates and half the
    /// triggers' batches, each paying its own fsync. The group's leader is also the turnstile
    /// `writer`'s lock never contends on: while another process holds the database lock, the
    /// leader waits up to the busy timeout and every other write waits in the queue at most
    /// that long before it reports `StorageUnavailable(.busy)`, instead of queueing on an
    /// unbounded lock one busy timeout after another.
    private let writes = GroupCommit<PendingWrite, any Sendable>(maxBatch: 64)
    private let writeCounts = Locked((commits: 0, writes: 0))
    /// Jobs' stamps read before, forgotten when the writer changes the job's row (`jobStamp`).
    private let stamps = JobStampMemo()
    /// Idle reader connections, in stripes chosen by the calling thread (`readerStripe`): one
    /// pool behind one lock was taken twice per read by every worker thread, and on 2 cores a
    /// preempted holder made the others sleep on it (5 % of the CPU in the lock's slow path
    /// under job JSON load). Each stripe keeps at most `readersPerStripe`.
    private let readers: [Locked<[Connection]>] = (0..<SQLiteJobStore.readerStripes).map { _ in Locked([]) }
    private static let readerStripes = 16
    private static let readersPerStripe = 2
    /// Triggers waiting to be committed together (`submit`), by a committer thread.
    let submissions: CommitQueue<PendingSubmission, SubmissionOutcome>
    let submissionCounts = Locked((commits: 0, submissions: 0))
    /// Jobs that submissions of the open write transaction created, reported once it commits
    /// (`reportCreatedJobs`); only the writer connection's holder touches it.
    let createdInTransaction = Locked<[JobRecord]>([])
    /// Called with each created job after its commit (`observeCreatedJobs`). Boxed in a class:
    /// a closure kept directly in `Locked` is reabstracted on every `withLock` (its value goes
    /// through the generic `inout`), and written back wrapped in one more thunk each time, so
    /// calls grew deeper with every commit (a trigger benchmark fell by a third in seconds).
    let createdObserver = Locked<CreatedJobsObserver?>(nil)

    /// How many transactions committed triggers, and how many triggers they held (since open):
    /// the group commit's effect, for tests and the benchmark.
    public var submissionCommits: (commits: Int, submissions: Int) { self.submissionCounts.withLock { $0 } }
    /// How many write transactions committed, and how many writes (`write` calls, a batch of
    /// triggers counting as one) they held (since open): the store-wide group commit's effect.
    public var writeCommits: (commits: Int, writes: Int) { self.writeCounts.withLock { $0 } }
    let now: @Sendable () -> Date
    /// How long a statement waits for another connection's lock before the store reports
    /// `StorageUnavailable(.busy)`.
    let busyTimeoutMilliseconds: Int32

    /// Opens (creating and migrating if needed) the store at `path`.
    ///
    /// A new database file is created with mode 0600, and an existing one loses any access for
    /// others (see `restrictFileModes`): SQLite gives `-wal` and `-shm` the mode of the database
    /// file, so these then follow.
    /// - Parameters:
    ///   - now: the clock, injectable for tests.
    ///   - busyTimeoutMilliseconds: how long a statement waits for a lock held by another
    ///     connection or process before giving up with `StorageUnavailable(.busy)`.
    ///   - maxTriggerBatch: the most triggers one group commit holds (`submit`); 1 commits each
    ///     on its own (the benchmark's reference).
    public init(
        path: String, now: @escaping @Sendable () -> Date = Date.init, busyTimeoutMilliseconds: Int32 = 5000, maxTriggerBatch: Int = 64
    ) throws {
        self.submissions = CommitQueue(
            maxBatch: maxTriggerBatch, timeout: .milliseconds(Int64(busyTimeoutMilliseconds)), threadName: "sluice.commit")
        self.path = path
        self.now = now
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        try Self.restrictFileModes(path)
        let connection = try Self.classifying { try Self.open(path, busyTimeoutMilliseconds: busyTimeoutMilliseconds) }
        // WAL is persistent in the file; setting it on the writer once is enough.
        let mode = try connection.query("PRAGMA journal_mode = WAL").first?[0].text
        guard mode == "wal" else { throw JobStoreError("could not enable WAL mode (got \(mode ?? "nothing"))") }
        try Schema.migrator.migrate(connection)
        connection.observeRowChanges(of: "jobs") { [stamps] id in stamps.changed(id) }
        self.writer = Locked(connection)
    }

    /// Creates the database file at `path` with mode 0600 if it does not exist, and takes
    /// access for others away from it and its `-wal` and `-shm` if it does: they hold
    /// parameters and the audit trail, which no other local user may read.
    ///
    /// Why not leave it to SQLite: it creates the file with 0644 (`SQLITE_DEFAULT_FILE_PERMISSIONS`)
    /// & ~umask, and then creates `-wal` and `-shm` with the main file's mode. An empty file is
    /// a valid empty database to SQLite, so creating it first just sets the mode for all three.
    static func restrictFileModes(_ path: String) throws {
        // SQLite's special names are no files.
        guard !path.isEmpty, path != ":memory:" else { return }
        do {
            // O_EXCL: only a file made here gets 0600; an existing one is kept (and tightened below).
            let fd = try syscall(where: "open") { Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600) }
            // Nothing was written, so a failing close loses nothing.
            try? Posix.close(fd)
            return
        } catch let error where error.errno == EEXIST {
            // Exists: tightened below.
        } catch {
            throw JobStoreError("cannot create \(path): \(error.message)")
        }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0 else {
                if errno == ENOENT { continue }
                throw JobStoreError("cannot stat \(file): \(String(cString: strerror(errno)))")
            }
            // Only the others' bits go (the group may be an operator or backup group), and only
            // on our own files: chmod of another user's file fails with EPERM, and a reader
            // such as `sluice audit export` run by an operator must still be able to open it.
            guard info.st_mode & 0o007 != 0, info.st_uid == geteuid() else { continue }
            guard chmod(file, info.st_mode & 0o7770) == 0 || errno == ENOENT else {
                throw JobStoreError("cannot chmod \(file): \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func open(_ path: String, busyTimeoutMilliseconds: Int32) throws -> Connection {
        let connection = try Connection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        // FULL syncs the WAL on every commit: a trigger acknowledged after its commit survives
        // power loss, not just a crash of this process (NORMAL only guarantees the latter in WAL).
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        return connection
    }

    /// Runs `body` with a reader connection from the pool.
    func read<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        try Self.classifying {
            let stripe = self.readers[Self.readerStripe()]
            let connection =
                try stripe.withLock { $0.popLast() } ?? Self.open(self.path, busyTimeoutMilliseconds: self.busyTimeoutMilliseconds)
            defer { stripe.withLock { if $0.count < Self.readersPerStripe { $0.append(connection) } } }
            return try body(connection)
        }
    }

    /// The calling thread's stripe of `readers`: its own number (`ThreadNumber`) modulo the
    /// stripes, so each thread keeps coming back to the same stripe and its connections, and
    /// up to 16 threads (the worker threads first: they read the most) never share one.
    /// Hashing the pthread id, as before, gave 8 worker threads shared stripes, and a profile of
    /// job JSON showed 4.5 % of the CPU in the contended lock.
    private static func readerStripe() -> Int {
        ThreadNumber.current % Self.readerStripes
    }

    /// Runs `body` inside a write transaction on the writer connection, and returns once that
    /// transaction is committed.
    ///
    /// The transaction may be shared with other writes that arrived meanwhile (`writes`): each
    /// body runs inside its own savepoint, in arrival order, seeing the writes before it. A body
    /// that throws is undone alone and its caller gets the error; the others commit. If the
    /// transaction itself fails (the commit, or an error after which SQLite has rolled the whole
    /// transaction back), every caller of the batch gets the error and nothing of it is stored.
    /// So each caller sees exactly what a transaction of its own would have given it.
    func write<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        let timeout = TimeInterval(self.busyTimeoutMilliseconds) / 1000
        // The body runs before `submit` returns (on this thread or the batch leader's), and the
        // queue keeps it no longer than that, so it does not really escape.
        let result = withoutActuallyEscaping(body) { body in
            self.writes.submit(PendingWrite(body: body), timeout: timeout) { batch in try self.commitWrites(batch) }
        }
        guard let result else {
            throw StorageUnavailable(
                .busy, detail: "another write held the job store for more than \(self.busyTimeoutMilliseconds) ms")
        }
        // `commitWrites` stores each body's own value, so the cast cannot fail.
        return try result.get() as! T
    }

    /// Runs `body` for each item of a batch, in order, inside the caller's transaction and a
    /// savepoint of its own: an item whose body throws is rolled back to its savepoint alone and
    /// gets its error (SQLite's "cannot right now" as `StorageUnavailable`); the others keep
    /// their changes. If SQLite has already rolled back the whole transaction (SQLITE_FULL, an
    /// I/O error), the ROLLBACK TO fails too and this throws: the batch fails as a whole.
    static func eachInSavepoint<Item, Value>(
        _ batch: [Item], named name: String, in db: Connection, _ body: (Item) throws -> Value
    ) throws -> [Result<Value, any Error>] {
        var results: [Result<Value, any Error>] = []
        results.reserveCapacity(batch.count)
        for item in batch {
            try db.run("SAVEPOINT \(name)")
            do {
                let value = try body(item)
                try db.run("RELEASE \(name)")
                results.append(.success(value))
            } catch {
                try db.run("ROLLBACK TO \(name)")
                try db.run("RELEASE \(name)")
                results.append(.failure((error as? SQLiteError).flatMap(StorageUnavailable.init(classifying:)) ?? error))
            }
        }
        return results
    }

    /// One write waiting for its turn (`write`).
    private struct PendingWrite {
        let body: (Connection) throws -> any Sendable
    }

    /// Commits a batch of writes in one transaction, each inside a savepoint (see `write`).
    private func commitWrites(_ batch: [PendingWrite]) throws -> [Result<any Sendable, any Error>] {
        defer { self.writeCounts.withLock { $0 = ($0.commits + 1, $0.writes + batch.count) } }
        return try Self.classifying {
            try self.writer.withLock { db in
                // Before any writer of the batch is answered (see `JobStampMemo`).
                defer { self.stamps.transactionEnded() }
                do {
                    let results: [Result<any Sendable, any Error>] = try db.transaction {
                        // Alone, a write needs no savepoint: its error rolls back the transaction.
                        if batch.count == 1 { return [.success(try batch[0].body(db))] }
                        return try Self.eachInSavepoint(batch, named: "write", in: db) { pending in try pending.body(db) }
                    }
                    self.reportCreatedJobs()
                    return results
                } catch {
                    self.createdInTransaction.withLock { $0.removeAll() }
                    throw error
                }
            }
        }
    }

    /// Runs `body`, turning SQLite's "cannot right now" results into `StorageUnavailable`
    /// (see `StorageUnavailable.init?(classifying:)`).
    private static func classifying<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw StorageUnavailable(classifying: error) ?? error
        }
    }

    public func job(id: Int64) throws -> JobRecord? {
        try self.read { db in
            // One read transaction for both queries: the job and its tasks come from the same
            // snapshot (a commit between them could otherwise pair a new job state with old
            // tasks), and the WAL read lock is taken once instead of twice.
            try db.transaction(immediate: false) {
                guard let row = try db.query("SELECT * FROM jobs WHERE id = ?", [.integer(id)]).first else { return nil }
                var job = try Self.job(from: row)
                // In primary-key (name) order, then put in definition order here: SQLite's
                // ORDER BY position would sort the rows through a temporary b-tree.
                let rows = try db.query("SELECT \(Self.taskColumns), position FROM tasks WHERE job_id = ?", [.integer(id)])
                var tasks = [TaskRecord?](repeating: nil, count: rows.count)
                for row in rows {
                    guard let position = row[15].int64, position >= 0, position < rows.count, tasks[Int(position)] == nil else {
                        throw JobStoreError("malformed task positions of job \(id)")
                    }
                    tasks[Int(position)] = try Self.task(from: row)
                }
                job.tasks = tasks.map { $0! }
                if job.approval != nil { job.approvals = try Self.approvals(of: id, in: db) }
                return job
            }
        }
    }

    /// Kept between writes of the job (`JobStampMemo`): no read transaction while the job's row
    /// has not changed.
    public func jobStamp(id: Int64) throws -> JobStamp? {
        try self.stamps.stamp(id: id) { try self.storedStamp(id: id) }
    }

    /// Job `id`'s stamp as stored now: one row's three columns through a cached statement,
    /// cheaper than `jobs(ids:)`.
    func storedStamp(id: Int64) throws -> JobStamp? {
        try self.read { db in
            guard let row = try db.query("SELECT state, started_at, finished_at FROM jobs WHERE id = ?", [.integer(id)]).first else {
                return nil
            }
            guard let state = row["state"].text.flatMap(JobState.init(rawValue:)) else { throw JobStoreError("malformed job row") }
            return JobStamp(
                state: state, startedAt: row["started_at"].int64.map(StoredTime.date(milliseconds:)),
                finishedAt: row["finished_at"].int64.map(StoredTime.date(milliseconds:)))
        }
    }

    public func jobs(_ query: JobQuery) throws -> [JobRecord] {
        if query.matchesNothing { return [] }
        var sql = "SELECT * FROM jobs WHERE 1"
        var arguments: [SQLValue] = []
        if let before = query.beforeID {
            sql += " AND id < ?"
            arguments.append(.integer(before))
        }
        if let pipelines = query.pipelines {
            sql += " AND pipeline IN (" + Array(repeating: "?", count: pipelines.count).joined(separator: ",") + ")"
            arguments += pipelines.sorted().map(SQLValue.text)
        }
        if let ids = query.ids {
            sql += " AND id IN (" + Array(repeating: "?", count: ids.count).joined(separator: ",") + ")"
            arguments += ids.map(SQLValue.integer)
        }
        if let before = query.finishedBefore {
            sql += " AND finished_at IS NOT NULL AND finished_at < ?"
            arguments.append(.integer(StoredTime.milliseconds(before)))
        }
        if let states = query.states {
            sql += " AND state IN (" + Array(repeating: "?", count: states.count).joined(separator: ",") + ")"
            arguments += states.map(\.rawValue).sorted().map(SQLValue.text)
        }
        if let user = query.triggeredBy {
            sql += " AND triggered_by = ?"
            arguments.append(.text(user))
        }
        if let from = query.createdFrom {
            sql += " AND created_at >= ?"
            arguments.append(.integer(StoredTime.milliseconds(from)))
        }
        if let until = query.createdUntil {
            sql += " AND created_at < ?"
            arguments.append(.integer(StoredTime.milliseconds(until)))
        }
        if let after = query.afterID {
            sql += " AND id > ?"
            arguments.append(.integer(after))
        }
        sql += query.oldestFirst ? " ORDER BY id ASC LIMIT ?" : " ORDER BY id DESC LIMIT ?"
        arguments.append(.integer(Int64(query.clampedLimit)))
        // Built per filter combination (and IN-list length): not kept in the statement cache.
        return try self.read { db in try db.query(sql, arguments, cached: false).map(Self.job(from:)) }
    }

    public func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        let now = self.now()
        try self.write { db in
            try db.run("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued','running')", [.integer(jobID)])
            var changed = db.changes > 0
            // A job awaiting approval is not the runner's: it ends here, cancelled, at once.
            if !changed {
                changed = try Self.endAwaiting(jobID, as: .cancelled, message: ApprovalEnd.cancelled, at: now, in: db)
                if changed { try db.run("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [.integer(jobID)]) }
            }
            if let audit, changed { try Self.insertAudit(audit, into: db) }
        }
        return try self.job(id: jobID)
    }

    /// The tasks a retry puts back in the queue (`JobRetry.requeuedTaskStates`).
    private static let requeueSQL = """
        UPDATE tasks SET state = 'queued', exit_code = NULL, message = ?, pid = NULL, started_at = NULL, finished_at = NULL,
            retry_at = NULL, attempts = \(SQLiteJobStore.appendAttemptSQL)
        WHERE job_id = ? AND state IN (\(JobRetry.requeuedTaskStates.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")))
        """

    public func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        let retried = try self.write { db -> Bool in
            guard
                let row = try db.query(
                    "SELECT state, \(JobRetry.approvedSQL(trueIs: " = 1")) FROM jobs WHERE id = ?", [.integer(jobID)]
                ).first,
                let state = row[0].text, let current = JobState(rawValue: state), JobRetry.isAllowed(from: current), row[1].int64 == 1
            else { return false }
            try db.run(Self.requeueSQL, [.text(JobRetry.message), .integer(jobID)])
            try db.run("DELETE FROM job_overviews WHERE job_id = ?", [.integer(jobID)])
            let anySucceeded =
                try db.query("SELECT 1 FROM tasks WHERE job_id = ? AND state = 'succeeded' LIMIT 1", [.integer(jobID)]).isEmpty == false
            try db.run(
                "UPDATE jobs SET state = ?, cancel_requested = 0, finished_at = NULL WHERE id = ?",
                [.text(JobRetry.jobState(anyTaskSucceeded: anySucceeded).rawValue), .integer(jobID)])
            if let audit { try Self.insertAudit(audit, into: db) }
            return true
        }
        return retried ? try self.job(id: jobID) : nil
    }

    public func unfinishedJobs() throws -> [JobRecord] {
        try self.read { db in
            try db.query("SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY id").map(Self.job(from:))
        }
    }

    public func recordProcess(jobID: Int64, task: String, pid: Int32) throws {
        try self.recordProcesses([(jobID, task, pid)])
    }

    public func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)]) throws {
        guard !processes.isEmpty else { return }
        try self.write { db in
            for p in processes {
                try db.run(
                    "UPDATE tasks SET pid = ? WHERE job_id = ? AND name = ?", [.integer(Int64(p.pid)), .integer(p.jobID), .text(p.task)])
            }
        }
    }

    public func record(jobID: Int64, changes: [TaskChange], jobState: JobState) throws {
        try self.record([JobUpdate(jobID: jobID, changes: changes, jobState: jobState)])
    }

    public func record(_ updates: [JobUpdate]) throws {
        guard !updates.isEmpty else { return }
        let now = self.now()
        try self.write { db in
            for update in updates { try Self.apply(update, at: now, in: db) }
        }
    }

    /// Applies one job's update inside the caller's transaction, as `RecordRules` describes.
    private static func apply(_ update: JobUpdate, at now: Date, in db: Connection) throws {
        let jobID = SQLValue.integer(update.jobID)
        for change in update.changes {
            let finished = SQLValue.time(RecordRules.taskFinishedAt(change, now: now))
            let exitCode = change.exitCode.map { SQLValue.integer(Int64($0)) } ?? .null
            switch change.state {
            case .running:
                try db.run(
                    """
                    UPDATE tasks SET state = 'running', attempt = attempt + 1, pid = ?, started_at = ?, finished_at = NULL,
                        exit_code = NULL, message = ?, retry_at = NULL, attempts = \(Self.appendAttemptSQL)
                    WHERE job_id = ? AND name = ?
                    """,
                    [change.pid.map { .integer(Int64($0)) } ?? .null, .time(now), change.message.sqlValue, jobID, .text(change.task)])
            case .queued:
                try db.run(
                    "UPDATE tasks SET state = 'queued', message = ?, retry_at = ?, finished_at = ?, exit_code = ? WHERE job_id = ? AND name = ?",
                    [change.message.sqlValue, .time(change.retryAt), finished, exitCode, jobID, .text(change.task)])
            case .succeeded, .failed, .skipped, .cancelled:
                try db.run(
                    """
                    UPDATE tasks SET state = ?, exit_code = ?, message = COALESCE(?, message), finished_at = ?, retry_at = NULL,
                        attempts = CASE WHEN state = 'queued' THEN \(Self.appendAttemptSQL) ELSE attempts END,
                        started_at = CASE WHEN state = 'queued' THEN NULL ELSE started_at END
                    WHERE job_id = ? AND name = ?
                    """,
                    [.text(change.state.rawValue), exitCode, change.message.sqlValue, finished, jobID, .text(change.task)])
            }
            guard db.changes == 1 else { throw JobStoreError("job \(update.jobID) has no task \(change.task)") }
        }
        if JobEvent.isRecorded(update.jobState) {
            // The outbox row of a change of state, in the transaction that makes it (nothing when
            // the job is already in that state).
            try db.run(
                "INSERT INTO job_events (job_id, pipeline, state, at) SELECT id, pipeline, ?, ? FROM jobs WHERE id = ? AND state <> ?",
                [.text(update.jobState.rawValue), .time(now), jobID, .text(update.jobState.rawValue)])
        }
        try db.run(
            "UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?), finished_at = ? WHERE id = ?",
            [
                .text(update.jobState.rawValue), .time(RecordRules.jobStartedAt(update.jobState, now: now)),
                .time(RecordRules.jobFinishedAt(update.jobState, now: now)), jobID,
            ])
        if update.jobState.isTerminal {
            // The overview is a summary the page can do without (it then reads every task):
            // whatever keeps it from being written (a task without a layer, a malformed
            // attempt history) must not fail the commit of the job's end, which the runner would
            // retry forever. A failed SELECT or INSERT in SQLite undoes only itself.
            try? Self.keepOverview(of: update.jobID, in: db)
        }
    }

    public func appendAudit(_ record: AuditRecord) throws {
        try self.write { db in try Self.insertAudit(record, into: db) }
    }

    public func appendAudit(_ records: [AuditRecord]) throws {
        guard !records.isEmpty else { return }
        try self.write { db in for record in records { try Self.insertAudit(record, into: db) } }
    }

    /// Inserts an audit record inside the caller's transaction.
    static func insertAudit(_ record: AuditRecord, into db: Connection) throws {
        let optional = { (s: String?) in s.map(SQLValue.text) ?? .null }
        try db.run(
            """
            INSERT INTO audit (at, event, decision, user, identity_source, pipeline, job_id, reason, request_id, client_address, config_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(StoredTime.milliseconds(record.at)), .text(record.event), .text(AuditDecisionColumn.encode(record.allowed)),
                optional(record.user), optional(record.identitySource), optional(record.pipeline),
                record.jobID.map(SQLValue.integer) ?? .null,
                .text(record.reason), optional(record.requestID), optional(record.clientAddress), .text(record.configHash),
            ])
    }

    public func auditRecords(_ query: AuditQuery) throws -> [AuditRecord] {
        if query.matchesNothing { return [] }
        var sql = "SELECT * FROM audit WHERE 1"
        var arguments: [SQLValue] = []
        if let pipelines = query.pipelines {
            let list = pipelines.sorted()
            var scope: [String] = []
            if !list.isEmpty {
                scope.append("pipeline IN (" + Array(repeating: "?", count: list.count).joined(separator: ",") + ")")
                arguments += list.map(SQLValue.text)
            }
            if query.includeUnscoped { scope.append("pipeline IS NULL") }
            sql += " AND (" + scope.joined(separator: " OR ") + ")"
        } else if !query.includeUnscoped {
            sql += " AND pipeline IS NOT NULL"
        }
        if let user = query.user {
            sql += " AND user = ?"
            arguments.append(.text(user))
        }
        if let event = query.event {
            sql += " AND event = ?"
            arguments.append(.text(event))
        }
        if let allowed = query.allowed {
            sql += " AND decision = ?"
            arguments.append(.text(AuditDecisionColumn.encode(allowed)))
        }
        if let before = query.beforeID {
            sql += " AND id < ?"
            arguments.append(.integer(before))
        }
        if let since = query.since {
            sql += " AND at >= ?"
            arguments.append(.integer(StoredTime.milliseconds(since)))
        }
        sql += " ORDER BY id DESC LIMIT ?"
        arguments.append(.integer(Int64(query.clampedLimit)))
        return try self.read { db in
            // Built per filter combination: not kept in the statement cache.
            try db.query(sql, arguments, cached: false).map { row in
                AuditRecord(
                    id: row["id"].int64 ?? 0, at: StoredTime.date(milliseconds: row["at"].int64 ?? 0), event: row["event"].text ?? "",
                    allowed: AuditDecisionColumn.decode(row["decision"].text), user: row["user"].text,
                    identitySource: row["identity_source"].text,
                    pipeline: row["pipeline"].text, jobID: row["job_id"].int64, reason: row["reason"].text ?? "",
                    requestID: row["request_id"].text, clientAddress: row["client_address"].text, configHash: row["config_hash"].text ?? "")
            }
        }
    }

    /// Runs SQLite's own consistency check; returns its findings ("ok" when healthy).
    public func integrityCheck() throws -> [String] {
        try self.read { db in try db.query("PRAGMA integrity_check").compactMap { $0[0].text } }
    }

    static func job(from row: Row) throws -> JobRecord {
        guard let id = row["id"].int64, let pipeline = row["pipeline"].text,
            let state = row["state"].text.flatMap(JobState.init(rawValue:)),
            let params = row["params"].text, let created = row["created_at"].int64
        else { throw JobStoreError("malformed job row") }
        return JobRecord(
            id: id, pipeline: pipeline, state: state, triggeredBy: row["triggered_by"].text ?? "",
            identitySource: row["identity_source"].text ?? "", params: try ParamsColumn.decode(params),
            workingDirectory: row["working_directory"].text ?? "", cancelRequested: row["cancel_requested"].int64 == 1,
            createdAt: StoredTime.date(milliseconds: created), startedAt: row["started_at"].int64.map(StoredTime.date(milliseconds:)),
            finishedAt: row["finished_at"].int64.map(StoredTime.date(milliseconds:)), tasks: [], identity: row["identity"].text ?? "",
            waitsForIdentity: row["waits_for_identity"].int64 == 1,
            secretParameters: try StringArrayColumn.decode(row["secret_params"].text ?? "[]"),
            approval: try ApprovalRequirement.stored(required: row["approvals_required"].int64, expiresAt: row["approval_expires_at"].int64)
        )
    }

    /// The columns `task(from:)` reads, in the order it reads them by position: a 100,000-task job
    /// is 1.4 million column reads, and looking each up by name (hashing the name) cost a third of
    /// the read.
    static let taskColumns =
        "name, needs, argv, state, attempt, pid, exit_code, message, started_at, finished_at, kind, options, retry_at, attempts, layer"

    /// The task a row of `SELECT taskColumns FROM tasks` holds.
    static func task(from row: Row) throws -> TaskRecord {
        guard let name = row[0].text, let needs = row[1].text, let argv = row[2].text,
            let state = row[3].text.flatMap(TaskState.init(rawValue:))
        else { throw JobStoreError("malformed task row") }
        guard let kind = TaskKind(rawValue: row[10].text ?? "command") else { throw JobStoreError("malformed task kind") }
        return TaskRecord(
            name: name, needs: try StringArrayColumn.decode(needs), argv: try StringArrayColumn.decode(argv),
            state: state, attempt: Int(row[4].int64 ?? 0), pid: row[5].int64.map { Int32(truncatingIfNeeded: $0) },
            exitCode: row[6].int64.map { Int32(truncatingIfNeeded: $0) }, message: row[7].text,
            startedAt: row[8].int64.map(StoredTime.date(milliseconds:)), finishedAt: row[9].int64.map(StoredTime.date(milliseconds:)),
            kind: kind, options: try TaskOptionsColumn.decode(row[11].text), retryAt: row[12].int64.map(StoredTime.date(milliseconds:)),
            pastAttempts: try PastAttemptsColumn.decode(row[13].text), layer: row[14].int64.map { Int($0) })
    }

    /// The new value of a task row's `attempts` (`PastAttemptsColumn`) in an UPDATE that starts
    /// the next attempt or requeues the task: the attempt the row describes appended, if it ever
    /// started. Every expression of an UPDATE reads the row as it was, so this sees the old fields
    /// whatever else the statement sets.
    ///
    /// A terminal change of a task that waits for its retry (queued, with the start of the attempt
    /// that failed) archives that attempt the same way: the change's finish time and note are the
    /// cancel's or the failure's, not the attempt's.
    ///
    /// The index is written as `$[n]` from `json_array_length`, not `$[#]`, which needs SQLite 3.31.
    static let appendAttemptSQL = """
        CASE WHEN started_at IS NULL THEN attempts
            ELSE json_insert(coalesce(attempts, '[]'), '$[' || json_array_length(coalesce(attempts, '[]')) || ']',
                json_array(attempt, started_at, finished_at, exit_code, message, state)) END
        """
}

extension SQLValue {
    /// A time as stored (`StoredTime`), or NULL.
    fileprivate static func time(_ date: Date?) -> SQLValue { date.map { .integer(StoredTime.milliseconds($0)) } ?? .null }
}

/// The observer of created jobs, by reference (see `SQLiteJobStore.createdObserver`).
final class CreatedJobsObserver: Sendable {
    let call: @Sendable (JobRecord) -> Void

    init(_ call: @escaping @Sendable (JobRecord) -> Void) { self.call = call }
}
