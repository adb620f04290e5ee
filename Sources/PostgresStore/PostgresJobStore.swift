public import Foundation
public import JobStore
import Postgres

/// The PostgreSQL implementation of `JobStore`, for several Sluice hosts sharing one database.
///
/// It behaves exactly as `SQLiteJobStore` does: it gathers what the shared rules need inside its
/// transactions and carries out what they decide (`SubmissionDecision`, `RecordRules`,
/// `JobRetry`), and stores columns in the shared encodings (`StringArrayColumn`, `ParamsColumn`,
/// `TaskOptionsColumn`, `StoredTime`, `AuditDecisionColumn`). The schema (`PostgresSchema`) is
/// created or migrated when the store opens, under a session advisory lock.
///
/// **Atomic decisions across hosts.** Every write runs in a READ COMMITTED transaction (through
/// `retryingTransaction`, so a detected deadlock runs it again). `submit` first takes
/// transaction-scoped advisory locks (`pg_advisory_xact_lock`, released at commit or rollback;
/// see `AdvisoryLockKey`): one for the caller's idempotency key if the job has one, then one for
/// the pipeline. Every check `SubmissionDecision` makes looks at jobs that only a submission
/// holding one of those locks can add: jobs of the same pipeline (duplicates, queue bound) or
/// with the same caller and key (idempotency). So two submissions that could influence each
/// other's decision never overlap; the second one's lock wait ends only after the first
/// committed, and in READ COMMITTED each of its later statements takes a new snapshot that sees
/// that commit. Why locks rather than SERIALIZABLE: the conflicting rows do not exist yet
/// (a count, an absent key), so SERIALIZABLE would detect the conflict only through predicate
/// locks and abort at commit, which under load on a hot pipeline means many retries; a lock
/// wait instead lets each submission through in turn, and submissions to other pipelines do
/// not wait at all. The unique index on (user, identity source, key) stays as a backstop.
///
/// Locks are always taken in the same order (idempotency key, pipeline, then the insert-order
/// lock, then rows are only inserted), so submissions cannot deadlock each other. `retry` and
/// `requestCancel` read, check and write the job in one transaction with its row locked
/// (`FOR UPDATE`, or an `UPDATE` with the check in its `WHERE`, which PostgreSQL re-checks on
/// the newest row version); `record` locks its jobs' rows (in id order) before their tasks, as
/// `retry` does, so the two do not deadlock either.
///
/// **Ids in commit order.** A sequence hands out ids when rows are inserted, not when they
/// commit; with concurrent writers a smaller id could become visible after a larger one, and a
/// reader paging by id would skip it. Every transaction that inserts a job or an audit record
/// therefore takes one more advisory lock (`AdvisoryLockKey.insertOrder`) right before the
/// insert: ids are then handed out in commit order, as with SQLite's single writer. Its holder
/// only inserts new rows and commits, so it never waits for anything while holding it.
///
/// **Several hosts.** It is also a `SharedJobStore` (PostgresJobStore+Shared.swift): hosts hold
/// leases by the database's clock, claim jobs, and write only to jobs they own. The
/// transactions that make work claimable or change it for its owner (a job submitted,
/// cancel-requested, retried, finished; jobs rescued) notify the store's channel
/// (`ChangeChannel`) before they commit, which wakes every host's listener (`makeListener`).
/// `retry` clears the job's owner: a retried job is claimable by any host.
///
/// **Errors.** Every method commits before it returns. What is "cannot right now" (connection
/// lost or refused, server shutting down, too many connections, disk full, a lock or statement
/// timeout) is thrown as `StorageUnavailable` (see `StorageUnavailable.init?(classifying:)`),
/// so the HTTP layer answers 503 or 507 as it does for SQLite; constraint violations and bugs
/// stay `PostgresError`s or `JobStoreError`s. A call whose connection turns out to be broken
/// (a restarted server, `pg_terminate_backend`) is run once more on a fresh connection, unless
/// the connection broke during `COMMIT` (whether that commit happened cannot be known): before
/// `COMMIT`, the server has rolled the transaction back.
public final class PostgresJobStore: JobStore {
    /// The store's connections, each set up with its lock and idle-in-transaction timeouts.
    let pool: ConnectionPool
    let now: @Sendable () -> Date
    /// The schema the tables are in (`current_schema()` at open): part of every advisory lock
    /// key, so that two Sluice installations in different schemas of one database do not wait
    /// for each other.
    let namespace: String
    /// The connection string and password the store was opened with (for the listeners'
    /// connections of their own).
    let connectionString: String
    let password: String?
    /// libpq parameters every connection gets unless the connection string sets them.
    let connectionDefaults: [(String, String)]
    /// The channel the store notifies changes on (`ChangeChannel`): `pg_notify` in the
    /// transactions that make work claimable or change it elsewhere, `LISTEN` in `makeListener`.
    let channel: String

    /// Opens the store: connects, and creates or migrates the schema in the connection's current
    /// schema (the first existing one on its `search_path`) if needed.
    ///
    /// - Parameters:
    ///   - connection: a libpq connection string (`host=... dbname=... user=...` or a
    ///     `postgresql://` URL). Add `connect_timeout=N` for a server reached over TCP, so that an
    ///     unreachable one fails in N seconds rather than the system's TCP timeout; add
    ///     `options='-c search_path=sluice'` to keep the tables in a schema of their own.
    ///   - password: the password, passed to libpq apart from the string (no quoting needed).
    ///   - poolSize: the most connections this store opens at once (at least 1).
    ///   - now: the clock, injectable for tests.
    ///   - busyTimeoutMilliseconds: how long a call waits for a free pooled connection, and a
    ///     statement for a lock (`lock_timeout`, the submission locks included), before the store
    ///     reports `StorageUnavailable(.busy)`.
    ///   - networkTimeoutSeconds: if set, every connection over TCP gives up on a silent network
    ///     after about this long (`PostgresConnection.networkTimeouts`; the connection string
    ///     may override each setting). Without it a call on a partitioned server hangs for the
    ///     system's TCP timeout, which a host holding a lease cannot afford.
    /// - Throws: `JobStoreError` if the server cannot be reached or refuses the login (with
    ///   libpq's message, which never contains the password), or if the schema is newer than
    ///   this program; `StorageUnavailable` or `PostgresError` if migrating fails.
    public init(
        connection: String, password: String? = nil, poolSize: Int = 4, now: @escaping @Sendable () -> Date = Date.init,
        busyTimeoutMilliseconds: Int = 5000, networkTimeoutSeconds: Int? = nil
    ) throws {
        self.now = now
        self.connectionString = connection
        self.password = password
        let defaults = networkTimeoutSeconds.map { PostgresConnection.networkTimeouts(seconds: $0) } ?? []
        self.connectionDefaults = defaults
        let lockTimeout = "\(max(1, busyTimeoutMilliseconds))ms"
        // The server's side of a partition: a host cut off in the middle of a transaction keeps
        // its row locks on the server until the server notices it is gone, and the other hosts'
        // claims and rescues wait on them (a CI run saw the rescuer time out on a lock every 5 s
        // while the cut host's lease expired). No transaction of this store waits on its client
        // between statements, so the server may end one that stays idle for the network
        // timeout (at least 2 s): the locks go before the cut host's lease runs out.
        let idleTimeout = networkTimeoutSeconds.map { "\(max(2, $0))s" } ?? "0"
        self.pool = ConnectionPool(
            connection: connection, password: password, defaults: defaults, size: poolSize, waitMilliseconds: busyTimeoutMilliseconds,
            setup: { db in
                try db.execute(
                    "SELECT set_config('lock_timeout', $1, false), set_config('idle_in_transaction_session_timeout', $2, false)",
                    [.text(lockTimeout), .text(idleTimeout)])
            })
        // Migrations run on a connection of their own, without the lock timeout: another host's
        // migration may hold the migration lock for longer than a statement may wait.
        let migrator: PostgresConnection
        do {
            migrator = try PostgresConnection(connection, password: password, defaults: defaults)
        } catch {
            throw JobStoreError("cannot connect to the PostgreSQL job store: \(error.message)")
        }
        defer { migrator.close() }
        do {
            try PostgresSchema.migrate(migrator)
            guard let schema = try migrator.execute("SELECT current_schema()").first?.string(0) else {
                throw JobStoreError("the PostgreSQL job store has no schema: no schema on the search_path exists")
            }
            self.namespace = schema
            self.channel = ChangeChannel.name(namespace: schema)
        } catch let error as PostgresError {
            throw StorageUnavailable(classifying: error) ?? error
        }
    }

    /// Closes the connections not in use now. The store stays usable: a later call connects
    /// again. (Connections are closed anyway when the store is released.)
    public func close() { self.pool.closeIdle() }

    // MARK: - Running statements

    /// Runs `body` with a pooled connection (outside a transaction: one statement, or a
    /// transaction `body` opens itself).
    func read<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try self.run(body)
    }

    /// Runs `body` in a READ COMMITTED transaction, again after a deadlock or serialization
    /// failure (the body must only touch the database).
    func write<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try self.run { db in try db.retryingTransaction(isolation: .readCommitted) { try body(db) } }
    }

    /// Runs `body` with a pooled connection, once more on a fresh connection if the first one
    /// turns out broken before anything could have been committed, and classifies errors.
    private func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            do {
                return try self.pool.withConnection(body)
            } catch let error as PostgresError where error.kind == .connection && error.sql != "COMMIT" {
                // The pool has closed the broken connection; the server has rolled back whatever
                // was not committed. One more try: a server that restarted is usually back.
                return try self.pool.withConnection(body)
            }
        } catch let error as PostgresError {
            throw StorageUnavailable(classifying: error) ?? error
        }
    }

    /// Takes the transaction-scoped advisory lock `key` (held until commit or rollback).
    static func lock(_ key: Int64, on db: PostgresConnection) throws {
        try db.execute("SELECT pg_advisory_xact_lock($1)", [.int64(key)])
    }

    /// Notifies `channel` inside the caller's transaction: listeners (`makeListener`) wake when
    /// it commits, and not at all if it rolls back, so nobody looks for a change that never
    /// happened. The payload is empty: a listener looks at the store itself, and the server
    /// folds identical notifications of one transaction into one.
    static func notifyChange(on channel: String, in db: PostgresConnection) throws {
        try db.notify(channel)
    }

    // MARK: - Submitting

    public func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission {
        let created = self.now()
        enum Outcome: Sendable {
            case inserted(Int64, waits: Bool)
            case existing(Int64, Submission.Reason)
            case refused(Submission.Refusal)
        }
        let namespace = self.namespace
        let channel = self.channel
        let outcome = try self.write { db -> Outcome in
            // The order is fixed (key, pipeline, insert order): see the type's documentation.
            if let key = job.idempotencyKey {
                try Self.lock(
                    AdvisoryLockKey.idempotencyKey(
                        user: job.triggeredBy, identitySource: job.identitySource, key: key, namespace: namespace),
                    on: db)
            }
            try Self.lock(AdvisoryLockKey.pipeline(job.pipeline, namespace: namespace), on: db)
            let decision = try SubmissionDecision.decide(
                job, rules: rules,
                jobWithKey: { key in
                    try db.execute(
                        "SELECT id, request_digest FROM jobs WHERE triggered_by = $1 AND identity_source = $2 AND idempotency_key = $3",
                        [.text(job.triggeredBy), .text(job.identitySource), .text(key)]
                    ).first.flatMap { row in
                        try row.int64("id").map { .init(id: $0, requestDigest: try row.string("request_digest")) }
                    }
                },
                oldestUnfinishedDuplicate: {
                    try db.execute(
                        """
                        SELECT id FROM jobs WHERE pipeline = $1 AND identity = $2 AND state IN ('queued','running','awaiting_approval')
                        ORDER BY id LIMIT 1
                        """,
                        [.text(job.pipeline), .text(job.identity)]
                    ).first?.int64(0)
                },
                unfinishedCount: {
                    Int(
                        try db.execute(
                            "SELECT count(*) FROM jobs WHERE pipeline = $1 AND state IN ('queued','running')", [.text(job.pipeline)]
                        ).first?.int64(0) ?? 0)
                })
            switch decision {
            case .insert(let waits):
                try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
                let id = try Self.insert(job, waits: waits, at: created, into: db)
                if var audit {
                    audit.jobID = id
                    try Self.insertAudit(audit, into: db)
                }
                // A new job: some host may claim it.
                try Self.notifyChange(on: channel, in: db)
                return .inserted(id, waits: waits)
            case .existing(let id, let reason): return .existing(id, reason)
            case .refused(let refusal): return .refused(refusal)
            }
        }
        switch outcome {
        case .inserted(let id, let waits):
            return .created(JobRecord(inserted: job, id: id, createdAt: created, waitsForIdentity: waits))
        case .existing(let id, let reason):
            guard let record = try self.job(id: id) else { throw JobStoreError("job \(id) vanished") }
            return .existing(record, reason)
        case .refused(let refusal):
            return .refused(refusal)
        }
    }

    /// How many tasks one `INSERT` writes (7 parameters each; a statement takes at most 65,535).
    private static let tasksPerInsert = 1000

    /// Inserts the job and its tasks inside the caller's transaction; returns the job's id.
    private static func insert(_ job: NewJob, waits: Bool, at created: Date, into db: PostgresConnection) throws -> Int64 {
        let row = try db.execute(
            """
            INSERT INTO jobs (pipeline, state, triggered_by, identity_source, params, working_directory, created_at,
                              identity, waits_for_identity, idempotency_key, request_digest, secret_params, host_affinity,
                              approvals_required, approval_expires_at)
            VALUES ($1, $13, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $15)
            RETURNING id
            """,
            [
                .text(job.pipeline), .text(job.triggeredBy), .text(job.identitySource), .text(try ParamsColumn.encode(job.params)),
                .text(job.workingDirectory), .int64(StoredTime.milliseconds(created)), .text(job.identity), .bool(waits),
                job.idempotencyKey.map(PostgresValue.text), job.requestDigest.map(PostgresValue.text),
                .text(try StringArrayColumn.encode(job.secretParameters)), job.hostAffinity.map(PostgresValue.text),
                .text(job.approval == nil ? "queued" : "awaiting_approval"), job.approval.map { .int64(Int64($0.required)) },
                job.approval.map { .int64(StoredTime.milliseconds($0.expiresAt)) },
            ]
        ).first
        guard let id = try row?.int64(0) else { throw JobStoreError("inserting a job returned no id") }
        if job.approval != nil {
            // The outbox row of the wait, so webhooks can call the approvers (the caller holds
            // the insert-order lock).
            try db.execute(
                "INSERT INTO job_events (job_id, pipeline, state, at) VALUES ($1, $2, 'awaiting_approval', $3)",
                [.int64(id), .text(job.pipeline), .int64(StoredTime.milliseconds(created))])
        }
        // Many rows per statement: one round trip per task would make a big job slow to submit.
        var start = 0
        while start < job.tasks.count {
            let batch = job.tasks[start..<min(start + Self.tasksPerInsert, job.tasks.count)]
            var arguments: [PostgresValue?] = []
            arguments.reserveCapacity(batch.count * 8)
            var rows: [String] = []
            rows.reserveCapacity(batch.count)
            for (position, task) in zip(start..., batch) {
                let n = arguments.count
                rows.append("($\(n + 1), $\(n + 2), $\(n + 3), $\(n + 4), $\(n + 5), 'queued', $\(n + 6), $\(n + 7), $\(n + 8))")
                arguments += [
                    .int64(id), .text(task.name), .int64(Int64(position)), .text(try StringArrayColumn.encode(task.needs)),
                    .text(try StringArrayColumn.encode(task.argv)), .text(task.kind.rawValue),
                    try TaskOptionsColumn.encode(task.options).map(PostgresValue.text), task.layer.map { .int64(Int64($0)) },
                ]
            }
            try db.execute(
                "INSERT INTO tasks (job_id, name, position, needs, argv, state, kind, options, layer) VALUES "
                    + rows.joined(separator: ", "),
                arguments)
            start += batch.count
        }
        return id
    }

    // MARK: - Reading jobs

    public func job(id: Int64) throws -> JobRecord? {
        try self.read { db in
            // One snapshot for both queries: a commit between them could otherwise pair a new
            // job state with old tasks.
            try db.transaction(isolation: .repeatableRead) {
                guard let row = try db.execute("SELECT * FROM jobs WHERE id = $1", [.int64(id)]).first else { return nil }
                var job = try Self.job(from: row)
                job.tasks = try db.execute("SELECT * FROM tasks WHERE job_id = $1 ORDER BY position", [.int64(id)]).map(Self.task(from:))
                if job.approval != nil { job.approvals = try Self.approvals(of: id, in: db) }
                return job
            }
        }
    }

    public func jobs(_ query: JobQuery) throws -> [JobRecord] {
        if query.matchesNothing { return [] }
        var sql = "SELECT * FROM jobs WHERE true"
        var arguments = Arguments()
        if let before = query.beforeID { sql += " AND id < " + arguments.add(.int64(before)) }
        if let pipelines = query.pipelines {
            sql += " AND pipeline IN (" + arguments.list(pipelines.sorted().map(PostgresValue.text)) + ")"
        }
        if let ids = query.ids { sql += " AND id IN (" + arguments.list(ids.map(PostgresValue.int64)) + ")" }
        if let before = query.finishedBefore {
            sql += " AND finished_at IS NOT NULL AND finished_at < " + arguments.add(.int64(StoredTime.milliseconds(before)))
        }
        if let states = query.states {
            sql += " AND state IN (" + arguments.list(states.map(\.rawValue).sorted().map(PostgresValue.text)) + ")"
        }
        if let user = query.triggeredBy { sql += " AND triggered_by = " + arguments.add(.text(user)) }
        if let from = query.createdFrom { sql += " AND created_at >= " + arguments.add(.int64(StoredTime.milliseconds(from))) }
        if let until = query.createdUntil { sql += " AND created_at < " + arguments.add(.int64(StoredTime.milliseconds(until))) }
        if let after = query.afterID { sql += " AND id > " + arguments.add(.int64(after)) }
        sql +=
            (query.oldestFirst ? " ORDER BY id ASC LIMIT " : " ORDER BY id DESC LIMIT ") + arguments.add(.int64(Int64(query.clampedLimit)))
        return try self.read { db in try db.execute(sql, arguments.values).map(Self.job(from:)) }
    }

    public func unfinishedJobs() throws -> [JobRecord] {
        try self.read { db in
            try db.execute("SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY id").map(Self.job(from:))
        }
    }

    // MARK: - Cancel and retry

    public func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        let namespace = self.namespace
        let channel = self.channel
        try self.write { db in
            // The check is in the UPDATE's WHERE: a concurrent change to the row makes
            // PostgreSQL wait for it and check the newest version.
            // The row is locked first, then the state read decides: a concurrent approval that
            // queues the job commits before this reads it, so the cancel is not lost.
            let state = try db.execute("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [.int64(jobID)]).first?.string(0)
            var changed = 0
            var ended = false
            switch state.flatMap(JobState.init(rawValue:)) {
            case .queued?, .running?:
                try db.execute("UPDATE jobs SET cancel_requested = true WHERE id = $1", [.int64(jobID)])
                changed = 1
            case .awaitingApproval?:
                // A job awaiting approval is no host's: it ends here, cancelled, at once.
                try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
                ended = try Self.endAwaiting(jobID, as: .cancelled, message: ApprovalEnd.cancelled, at: self.now(), in: db)
                if ended {
                    changed = 1
                    try db.execute("UPDATE jobs SET cancel_requested = true WHERE id = $1", [.int64(jobID)])
                }
            default: break
            }
            if let audit, changed > 0 {
                if !ended { try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db) }
                try Self.insertAudit(audit, into: db)
            }
            // The owner (or, for an unowned job, any host) must act on the request.
            if changed > 0 { try Self.notifyChange(on: channel, in: db) }
        }
        return try self.job(id: jobID)
    }

    /// The tasks a retry puts back in the queue (`JobRetry.requeuedTaskStates`).
    private static let requeueSQL = """
        UPDATE tasks SET state = 'queued', exit_code = NULL, message = $1, pid = NULL, started_at = NULL, finished_at = NULL,
            retry_at = NULL, attempts = \(PostgresJobStore.appendAttemptSQL)
        WHERE job_id = $2 AND state IN (\(JobRetry.requeuedTaskStates.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")))
        """

    public func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        let namespace = self.namespace
        let channel = self.channel
        let retried = try self.write { db -> Bool in
            // FOR UPDATE: the state checked is the state changed; a concurrent retry or record
            // waits until this one commits, and then sees its outcome.
            guard
                let row = try db.execute(
                    "SELECT state, \(JobRetry.approvedSQL(trueIs: "")) FROM jobs WHERE id = $1 FOR UPDATE", [.int64(jobID)]
                ).first,
                let state = try row.string(0), let current = JobState(rawValue: state), JobRetry.isAllowed(from: current),
                try row.bool(1) == true
            else { return false }
            try db.execute(Self.requeueSQL, [.text(JobRetry.message), .int64(jobID)])
            try db.execute("DELETE FROM job_overviews WHERE job_id = $1", [.int64(jobID)])
            let anySucceeded =
                try db.execute("SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = $1 AND state = 'succeeded')", [.int64(jobID)])
                .first?.bool(0) ?? false
            // The owner is cleared: the host that ran the job has long let go of it (it was
            // finished), so the retried job is claimable by any host, like a new one.
            try db.execute(
                """
                UPDATE jobs SET state = $1, cancel_requested = false, finished_at = NULL, owner = NULL, owner_epoch = NULL
                WHERE id = $2
                """,
                [.text(JobRetry.jobState(anyTaskSucceeded: anySucceeded).rawValue), .int64(jobID)])
            if let audit {
                try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
                try Self.insertAudit(audit, into: db)
            }
            try Self.notifyChange(on: channel, in: db)
            return true
        }
        return retried ? try self.job(id: jobID) : nil
    }

    // MARK: - Recording the runner's changes

    public func recordProcess(jobID: Int64, task: String, pid: Int32) throws {
        try self.recordProcesses([(jobID, task, pid)])
    }

    public func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)]) throws {
        try self.recordProcesses(processes, fence: nil)
    }

    /// Records process ids in one transaction: all of them, or with a `fence` only those of jobs
    /// the lease owns (the others are skipped). Their job rows are then locked (`FOR SHARE`, in
    /// id order) while the pids are written, so a rescue cannot release a job in between; the
    /// unfenced variant locks nothing, as before shared stores.
    func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)], fence: HostLease?) throws {
        guard !processes.isEmpty else { return }
        try self.write { db in
            let owned = try fence.map { fence in
                Set(try Self.lockJobs(Set(processes.map(\.jobID)).sorted(), ownedBy: fence, .share, in: db).keys)
            }
            for p in processes where owned?.contains(p.jobID) ?? true {
                try db.execute(
                    "UPDATE tasks SET pid = $1 WHERE job_id = $2 AND name = $3", [.int64(Int64(p.pid)), .int64(p.jobID), .text(p.task)])
            }
        }
    }

    public func record(jobID: Int64, changes: [TaskChange], jobState: JobState) throws {
        try self.record([JobUpdate(jobID: jobID, changes: changes, jobState: jobState)])
    }

    public func record(_ updates: [JobUpdate]) throws {
        _ = try self.record(updates, fence: nil)
    }

    /// Applies updates in one transaction: all of them, or with a `fence` only those of jobs the
    /// lease owns. Notifies the store's channel if a job became terminal (its pipeline's
    /// concurrency slot is free, and jobs waiting for its identity may start).
    /// - Returns: the ids of the jobs whose updates were refused (always empty without a fence).
    func record(_ updates: [JobUpdate], fence: HostLease?) throws -> Set<Int64> {
        guard !updates.isEmpty else { return [] }
        let now = self.now()
        let channel = self.channel
        let namespace = self.namespace
        return try self.write { db in
            // Job rows before their tasks, in id order, as retry locks them: no deadlock. With a
            // fence the ownership check is part of the locking statement: a row that a rescue or
            // take-over is changing is re-checked on its newest version once that commits, so
            // an update never lands on a job that has just changed hands.
            let ids = Set(updates.map(\.jobID)).sorted()
            let before = try Self.lockJobs(ids, ownedBy: fence, .update, in: db)
            var becameTerminal = false
            var batch = TaskChangeBatch()
            for update in updates where fence == nil || before[update.jobID] != nil {
                batch.add(update)
                if update.jobState.isTerminal, before[update.jobID]?.isTerminal == false { becameTerminal = true }
            }
            try batch.write(at: now, in: db)
            // The outbox rows of the jobs whose state changed to one that is recorded, in this
            // transaction, with ids in commit order (the insert-order lock, as audit records).
            var last: [Int64: JobState] = [:]
            for update in updates where fence == nil || before[update.jobID] != nil { last[update.jobID] = update.jobState }
            let changed = last.filter { before[$0.key] != $0.value && JobEvent.isRecorded($0.value) }.sorted { $0.key < $1.key }
            if !changed.isEmpty {
                try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
                try db.execute(
                    """
                    INSERT INTO job_events (job_id, pipeline, state, at)
                    SELECT jobs.id, jobs.pipeline, v.state, $3
                    FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS v(id, state, n) JOIN jobs ON jobs.id = v.id
                    ORDER BY v.n
                    """,
                    [
                        .text(ArrayLiteral.integers(changed.map(\.key))), .text(ArrayLiteral.texts(changed.map { $0.value.rawValue })),
                        .int64(StoredTime.milliseconds(now)),
                    ])
            }
            if becameTerminal { try Self.notifyChange(on: channel, in: db) }
            // Every applied change, for long-polls on other hosts (`ChangeChannel.progressName`).
            if !before.isEmpty { try Self.notifyChange(on: ChangeChannel.progressName(namespace: namespace), in: db) }
            return fence == nil ? [] : Set(ids.filter { before[$0] == nil })
        }
    }

    /// How `lockJobs` locks rows.
    enum RowLock: String {
        /// `FOR UPDATE`: the rows are about to change.
        case update = "FOR UPDATE"
        /// `FOR SHARE`: the rows must not change (or change hands) while their tasks do.
        case share = "FOR SHARE"
    }

    /// Locks the rows of the jobs `ids` (sorted: rows are locked in id order, which every
    /// multi-row locker here keeps, so they cannot deadlock each other) inside the caller's
    /// transaction; with `owner`, only those the lease owns.
    /// - Returns: the state of each job locked, by id.
    static func lockJobs(_ ids: [Int64], ownedBy owner: HostLease?, _ lock: RowLock, in db: PostgresConnection) throws -> [Int64: JobState]
    {
        var arguments = Arguments()
        var sql = "SELECT id, state FROM jobs WHERE id IN (" + arguments.list(ids.map(PostgresValue.int64)) + ")"
        if let owner {
            sql += " AND owner = " + arguments.add(.text(owner.host)) + " AND owner_epoch = " + arguments.add(.int64(owner.epoch))
        }
        sql += " ORDER BY id " + lock.rawValue
        var states: [Int64: JobState] = [:]
        for row in try db.execute(sql, arguments.values) {
            guard let id = try row.int64("id"), let state = try row.string("state").flatMap(JobState.init(rawValue:)) else {
                throw JobStoreError("malformed job row")
            }
            states[id] = state
        }
        return states
    }

    // MARK: - Audit

    public func appendAudit(_ record: AuditRecord) throws {
        try self.appendAudit([record])
    }

    public func appendAudit(_ records: [AuditRecord]) throws {
        guard !records.isEmpty else { return }
        let namespace = self.namespace
        try self.write { db in
            try Self.lock(AdvisoryLockKey.insertOrder(namespace: namespace), on: db)
            for record in records { try Self.insertAudit(record, into: db) }
        }
    }

    /// Inserts an audit record inside the caller's transaction, which holds the insert-order lock.
    static func insertAudit(_ record: AuditRecord, into db: PostgresConnection) throws {
        let optional = { (s: String?) in s.map(PostgresValue.text) }
        try db.execute(
            """
            INSERT INTO audit (at, event, decision, "user", identity_source, pipeline, job_id, reason, request_id, client_address,
                               config_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            [
                .int64(StoredTime.milliseconds(record.at)), .text(record.event), .text(AuditDecisionColumn.encode(record.allowed)),
                optional(record.user), optional(record.identitySource), optional(record.pipeline), record.jobID.map(PostgresValue.int64),
                .text(record.reason), optional(record.requestID), optional(record.clientAddress), .text(record.configHash),
            ])
    }

    public func auditRecords(_ query: AuditQuery) throws -> [AuditRecord] {
        if query.matchesNothing { return [] }
        var sql = "SELECT * FROM audit WHERE true"
        var arguments = Arguments()
        if let pipelines = query.pipelines {
            var scope: [String] = []
            if !pipelines.isEmpty { scope.append("pipeline IN (" + arguments.list(pipelines.sorted().map(PostgresValue.text)) + ")") }
            if query.includeUnscoped { scope.append("pipeline IS NULL") }
            sql += " AND (" + scope.joined(separator: " OR ") + ")"
        } else if !query.includeUnscoped {
            sql += " AND pipeline IS NOT NULL"
        }
        if let user = query.user { sql += " AND \"user\" = " + arguments.add(.text(user)) }
        if let event = query.event { sql += " AND event = " + arguments.add(.text(event)) }
        if let allowed = query.allowed { sql += " AND decision = " + arguments.add(.text(AuditDecisionColumn.encode(allowed))) }
        if let before = query.beforeID { sql += " AND id < " + arguments.add(.int64(before)) }
        if let since = query.since { sql += " AND at >= " + arguments.add(.int64(StoredTime.milliseconds(since))) }
        sql += " ORDER BY id DESC LIMIT " + arguments.add(.int64(Int64(query.clampedLimit)))
        return try self.read { db in
            try db.execute(sql, arguments.values).map { row in
                AuditRecord(
                    id: try row.int64("id") ?? 0, at: StoredTime.date(milliseconds: try row.int64("at") ?? 0),
                    event: try row.string("event") ?? "", allowed: AuditDecisionColumn.decode(try row.string("decision")),
                    user: try row.string("user"), identitySource: try row.string("identity_source"), pipeline: try row.string("pipeline"),
                    jobID: try row.int64("job_id"), reason: try row.string("reason") ?? "", requestID: try row.string("request_id"),
                    clientAddress: try row.string("client_address"), configHash: try row.string("config_hash") ?? "")
            }
        }
    }

    // MARK: - Rows

    /// The job (without tasks) a `SELECT * FROM jobs` row holds.
    static func job(from row: PostgresRow) throws -> JobRecord {
        guard let id = try row.int64("id"), let pipeline = try row.string("pipeline"),
            let state = try row.string("state").flatMap(JobState.init(rawValue:)),
            let params = try row.string("params"), let created = try row.int64("created_at")
        else { throw JobStoreError("malformed job row") }
        return JobRecord(
            id: id, pipeline: pipeline, state: state, triggeredBy: try row.string("triggered_by") ?? "",
            identitySource: try row.string("identity_source") ?? "", params: try ParamsColumn.decode(params),
            workingDirectory: try row.string("working_directory") ?? "", cancelRequested: try row.bool("cancel_requested") == true,
            createdAt: StoredTime.date(milliseconds: created), startedAt: try row.int64("started_at").map(StoredTime.date(milliseconds:)),
            finishedAt: try row.int64("finished_at").map(StoredTime.date(milliseconds:)), tasks: [],
            identity: try row.string("identity") ?? "", waitsForIdentity: try row.bool("waits_for_identity") == true,
            secretParameters: try StringArrayColumn.decode(try row.string("secret_params") ?? "[]"),
            approval: try ApprovalRequirement.stored(
                required: try row.int64("approvals_required"), expiresAt: try row.int64("approval_expires_at")))
    }

    /// The task a `SELECT * FROM tasks` row holds.
    static func task(from row: PostgresRow) throws -> TaskRecord {
        guard let name = try row.string("name"), let state = try row.string("state").flatMap(TaskState.init(rawValue:)),
            let needs = try row.string("needs"), let argv = try row.string("argv")
        else { throw JobStoreError("malformed task row") }
        guard let kind = TaskKind(rawValue: try row.string("kind") ?? "command") else { throw JobStoreError("malformed task kind") }
        return TaskRecord(
            name: name, needs: try StringArrayColumn.decode(needs), argv: try StringArrayColumn.decode(argv), state: state,
            attempt: Int(try row.int64("attempt") ?? 0), pid: try row.int64("pid").map { Int32(truncatingIfNeeded: $0) },
            exitCode: try row.int64("exit_code").map { Int32(truncatingIfNeeded: $0) }, message: try row.string("message"),
            startedAt: try row.int64("started_at").map(StoredTime.date(milliseconds:)),
            finishedAt: try row.int64("finished_at").map(StoredTime.date(milliseconds:)), kind: kind,
            options: try TaskOptionsColumn.decode(try row.string("options")),
            retryAt: try row.int64("retry_at").map(StoredTime.date(milliseconds:)),
            pastAttempts: try PastAttemptsColumn.decode(try row.string("attempts")), layer: try row.int64("layer").map { Int($0) })
    }

    /// The new value of a task row's `attempts` (`PastAttemptsColumn`) in an UPDATE that starts
    /// the next attempt or requeues the task: the attempt the row describes appended, if it ever
    /// started. Every expression of an UPDATE reads the row as it was, so this sees the old fields
    /// whatever else the statement sets. A terminal change of a task that waits for its retry
    /// archives that attempt the same way (see `TaskChangeBatch`).
    static let appendAttemptSQL = """
        CASE WHEN tasks.started_at IS NULL THEN tasks.attempts
            ELSE coalesce(tasks.attempts, '[]'::jsonb) || jsonb_build_array(jsonb_build_array(
                tasks.attempt, tasks.started_at, tasks.finished_at, tasks.exit_code, tasks.message, tasks.state)) END
        """
}

/// A time as stored (`StoredTime`), or NULL.
private func time(_ date: Date?) -> PostgresValue? { date.map { .int64(StoredTime.milliseconds($0)) } }
