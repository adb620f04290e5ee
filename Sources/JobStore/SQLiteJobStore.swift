public import Foundation
import JSON
import Locking
import SQLite
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The SQLite implementation of `JobStore`: WAL mode, `synchronous=FULL`, one writer connection
/// and a small pool of reader connections (WAL lets readers run beside the writer).
public final class SQLiteJobStore: JobStore {
    private let path: String
    private let writer: Locked<Connection>
    /// The turn to use `writer`, taken with a deadline before `writer`'s lock (which is then
    /// never contended). Why: while another process holds the database lock, the thread inside
    /// a write waits up to the busy timeout, and every other writer thread would queue behind it
    /// on an unbounded lock, one busy timeout after another. With the turnstile each write waits
    /// at most one busy timeout for its turn, then reports `StorageUnavailable(.busy)`.
    private let writerTurn = DispatchSemaphore(value: 1)
    private let readers = Locked<[Connection]>([])
    private let now: @Sendable () -> Date
    /// How long a statement waits for another connection's lock before the store reports
    /// `StorageUnavailable(.busy)`.
    private let busyTimeoutMilliseconds: Int32

    /// Opens (creating and migrating if needed) the store at `path`.
    ///
    /// A new database file is created with mode 0600, and an existing one loses any access for
    /// others (see `restrictFileModes`): SQLite gives `-wal` and `-shm` the mode of the database
    /// file, so these then follow.
    /// - Parameters:
    ///   - now: the clock, injectable for tests.
    ///   - busyTimeoutMilliseconds: how long a statement waits for a lock held by another
    ///     connection or process before giving up with `StorageUnavailable(.busy)`.
    public init(path: String, now: @escaping @Sendable () -> Date = Date.init, busyTimeoutMilliseconds: Int32 = 5000) throws {
        self.path = path
        self.now = now
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        try Self.restrictFileModes(path)
        let connection = try Self.classifying { try Self.open(path, busyTimeoutMilliseconds: busyTimeoutMilliseconds) }
        // WAL is persistent in the file; setting it on the writer once is enough.
        let mode = try connection.query("PRAGMA journal_mode = WAL").first?[0].text
        guard mode == "wal" else { throw JobStoreError("could not enable WAL mode (got \(mode ?? "nothing"))") }
        try Schema.migrator.migrate(connection)
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
    private func read<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        try Self.classifying {
            let connection =
                try self.readers.withLock { $0.popLast() } ?? Self.open(self.path, busyTimeoutMilliseconds: self.busyTimeoutMilliseconds)
            defer { self.readers.withLock { if $0.count < 8 { $0.append(connection) } } }
            return try body(connection)
        }
    }

    /// Runs `body` inside a write transaction on the writer connection.
    private func write<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        let timeout = Int(self.busyTimeoutMilliseconds)
        guard self.writerTurn.wait(timeout: .now() + .milliseconds(timeout)) == .success else {
            throw StorageUnavailable(.busy, detail: "another write held the job store for more than \(timeout) ms")
        }
        defer { self.writerTurn.signal() }
        return try Self.classifying {
            try self.writer.withLock { connection in
                try connection.transaction { try body(connection) }
            }
        }
    }

    /// Runs `body`, turning SQLite's "cannot right now" results into `StorageUnavailable`.
    ///
    /// Result codes (sqlite3.h): SQLITE_BUSY 5 and SQLITE_LOCKED 6 (lock held past the busy
    /// timeout), SQLITE_FULL 13 (no space for the database or journal), SQLITE_IOERR 10 and
    /// SQLITE_CANTOPEN 14 (the file system failed us). A full disk often surfaces as an
    /// SQLITE_IOERR_WRITE (10 | 3<<8) with errno ENOSPC, not as SQLITE_FULL: SQLite reports
    /// FULL only where it checks for it itself, so the I/O text is searched for "full" too.
    private static func classifying<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            switch error.primaryCode {
            case 5, 6: throw StorageUnavailable(.busy, detail: error.message)
            case 13: throw StorageUnavailable(.full, detail: error.message)
            case 10, 14:
                let full = error.message.lowercased().contains("full") || error.message.contains("No space")
                throw StorageUnavailable(full ? .full : .io, detail: error.message)
            default: throw error
            }
        }
    }

    public func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission {
        let created = self.now()
        enum Outcome: Sendable {
            case inserted(Int64)
            case existing(Int64, Submission.Reason)
            case refused(Submission.Refusal)
        }
        let outcome = try self.write { db -> Outcome in
            if let key = job.idempotencyKey,
                let row = try db.query(
                    "SELECT id, request_digest FROM jobs WHERE triggered_by = ? AND identity_source = ? AND idempotency_key = ?",
                    [.text(job.triggeredBy), .text(job.identitySource), .text(key)]
                ).first, let id = row["id"].int64
            {
                return row["request_digest"].text == job.requestDigest
                    ? .existing(id, .idempotencyKey) : .refused(.idempotencyKeyReused(jobID: id))
            }
            if rules.onDuplicate == .returnExisting || rules.onDuplicate == .reject,
                let id = try db.query(
                    "SELECT id FROM jobs WHERE pipeline = ? AND identity = ? AND state IN ('queued','running') ORDER BY id LIMIT 1",
                    [.text(job.pipeline), .text(job.identity)]
                ).first?["id"].int64
            {
                return rules.onDuplicate == .reject ? .refused(.duplicate(jobID: id)) : .existing(id, .duplicate)
            }
            if let limit = rules.maxUnfinished {
                let count =
                    try db.query(
                        "SELECT count(*) FROM jobs WHERE pipeline = ? AND state IN ('queued','running')", [.text(job.pipeline)]
                    ).first?[0].int64 ?? 0
                if count >= Int64(limit) { return .refused(.queueFull(limit: limit)) }
            }
            let id = try Self.insert(job, waits: rules.onDuplicate == .queue, at: created, into: db)
            if var audit {
                audit.jobID = id
                try Self.insertAudit(audit, into: db)
            }
            return .inserted(id)
        }
        switch outcome {
        case .inserted(let id):
            // Built from what was just inserted rather than read back: for a job of 100,000
            // tasks the read-back cost as much as the insert.
            let tasks = job.tasks.map { task in
                TaskRecord(name: task.name, needs: task.needs, argv: task.argv, kind: task.kind, options: task.options)
            }
            return .created(
                JobRecord(
                    id: id, pipeline: job.pipeline, state: .queued, triggeredBy: job.triggeredBy, identitySource: job.identitySource,
                    params: job.params, workingDirectory: job.workingDirectory, cancelRequested: false,
                    createdAt: Date(milliseconds: created.milliseconds), startedAt: nil, finishedAt: nil, tasks: tasks,
                    identity: job.identity,
                    waitsForIdentity: rules.onDuplicate == .queue, secretParameters: job.secretParameters))
        case .existing(let id, let reason):
            guard let record = try self.job(id: id) else { throw JobStoreError("job \(id) vanished") }
            return .existing(record, reason)
        case .refused(let refusal):
            return .refused(refusal)
        }
    }

    private static func insert(_ job: NewJob, waits: Bool, at created: Date, into db: Connection) throws -> Int64 {
        try db.run(
            """
            INSERT INTO jobs (pipeline, state, triggered_by, identity_source, params, working_directory, created_at,
                              identity, waits_for_identity, idempotency_key, request_digest, secret_params)
            VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(job.pipeline), .text(job.triggeredBy), .text(job.identitySource),
                .text(try JSONCoding.encode(job.params)), .text(job.workingDirectory), .integer(created.milliseconds),
                .text(job.identity), .integer(waits ? 1 : 0), job.idempotencyKey.map(SQLValue.text) ?? .null,
                job.requestDigest.map(SQLValue.text) ?? .null, .text(StringArrayColumn.encode(job.secretParameters)),
            ])
        let id = db.lastInsertRowID
        for (position, task) in job.tasks.enumerated() {
            try db.run(
                "INSERT INTO tasks (job_id, name, position, needs, argv, state, kind, options) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                [
                    .integer(id), .text(task.name), .integer(Int64(position)),
                    .text(StringArrayColumn.encode(task.needs)), .text(StringArrayColumn.encode(task.argv)),
                    .text(task.kind.rawValue), task.options == .standard ? .null : .text(try JSONCoding.encode(task.options)),
                ])
        }
        return id
    }

    public func job(id: Int64) throws -> JobRecord? {
        try self.read { db in
            // One read transaction for both queries: the job and its tasks come from the same
            // snapshot (a commit between them could otherwise pair a new job state with old
            // tasks), and the WAL read lock is taken once instead of twice.
            try db.transaction(immediate: false) {
                guard let row = try db.query("SELECT * FROM jobs WHERE id = ?", [.integer(id)]).first else { return nil }
                var job = try Self.job(from: row)
                job.tasks = try db.query("SELECT * FROM tasks WHERE job_id = ? ORDER BY position", [.integer(id)]).map(Self.task(from:))
                return job
            }
        }
    }

    public func jobs(_ query: JobQuery) throws -> [JobRecord] {
        var sql = "SELECT * FROM jobs WHERE 1"
        var arguments: [SQLValue] = []
        if let before = query.beforeID {
            sql += " AND id < ?"
            arguments.append(.integer(before))
        }
        if let pipelines = query.pipelines {
            if pipelines.isEmpty { return [] }
            sql += " AND pipeline IN (" + Array(repeating: "?", count: pipelines.count).joined(separator: ",") + ")"
            arguments += pipelines.sorted().map(SQLValue.text)
        }
        if let ids = query.ids {
            if ids.isEmpty { return [] }
            sql += " AND id IN (" + Array(repeating: "?", count: ids.count).joined(separator: ",") + ")"
            arguments += ids.map(SQLValue.integer)
        }
        if let before = query.finishedBefore {
            sql += " AND finished_at IS NOT NULL AND finished_at < ?"
            arguments.append(.integer(before.milliseconds))
        }
        if let states = query.states {
            if states.isEmpty { return [] }
            sql += " AND state IN (" + Array(repeating: "?", count: states.count).joined(separator: ",") + ")"
            arguments += states.map(\.rawValue).sorted().map(SQLValue.text)
        }
        if let user = query.triggeredBy {
            sql += " AND triggered_by = ?"
            arguments.append(.text(user))
        }
        if let from = query.createdFrom {
            sql += " AND created_at >= ?"
            arguments.append(.integer(from.milliseconds))
        }
        if let until = query.createdUntil {
            sql += " AND created_at < ?"
            arguments.append(.integer(until.milliseconds))
        }
        if let after = query.afterID {
            sql += " AND id > ?"
            arguments.append(.integer(after))
        }
        sql += query.oldestFirst ? " ORDER BY id ASC LIMIT ?" : " ORDER BY id DESC LIMIT ?"
        arguments.append(.integer(Int64(max(0, min(query.limit, 1000)))))
        // Built per filter combination (and IN-list length): not kept in the statement cache.
        return try self.read { db in try db.query(sql, arguments, cached: false).map(Self.job(from:)) }
    }

    public func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        try self.write { db in
            try db.run("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued','running')", [.integer(jobID)])
            if let audit, db.changes > 0 { try Self.insertAudit(audit, into: db) }
        }
        return try self.job(id: jobID)
    }

    public func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        let retried = try self.write { db -> Bool in
            guard let state = try db.query("SELECT state FROM jobs WHERE id = ?", [.integer(jobID)]).first?[0].text,
                state == JobState.failed.rawValue || state == JobState.cancelled.rawValue
            else { return false }
            try db.run(
                """
                UPDATE tasks SET state = 'queued', exit_code = NULL, message = 'retry requested', pid = NULL, finished_at = NULL, retry_at = NULL
                WHERE job_id = ? AND state IN ('failed', 'skipped', 'cancelled')
                """, [.integer(jobID)])
            let anySucceeded =
                try db.query("SELECT 1 FROM tasks WHERE job_id = ? AND state = 'succeeded' LIMIT 1", [.integer(jobID)]).isEmpty == false
            try db.run(
                "UPDATE jobs SET state = ?, cancel_requested = 0, finished_at = NULL WHERE id = ?",
                [.text(anySucceeded ? JobState.running.rawValue : JobState.queued.rawValue), .integer(jobID)])
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
        let now = SQLValue.integer(self.now().milliseconds)
        try self.write { db in
            for update in updates { try Self.apply(update, at: now, in: db) }
        }
    }

    private static func apply(_ update: JobUpdate, at now: SQLValue, in db: Connection) throws {
        let jobID = SQLValue.integer(update.jobID)
        for change in update.changes {
            switch change.state {
            case .running:
                try db.run(
                    """
                    UPDATE tasks SET state = 'running', attempt = attempt + 1, pid = ?, started_at = ?, finished_at = NULL,
                        exit_code = NULL, message = ?, retry_at = NULL
                    WHERE job_id = ? AND name = ?
                    """,
                    [change.pid.map { .integer(Int64($0)) } ?? .null, now, change.message.sqlValue, jobID, .text(change.task)])
            case .queued:
                try db.run(
                    "UPDATE tasks SET state = 'queued', message = ?, retry_at = ?, finished_at = ?, exit_code = ? WHERE job_id = ? AND name = ?",
                    [
                        change.message.sqlValue, change.retryAt.map { .integer($0.milliseconds) } ?? .null,
                        change.retryAt == nil ? .null : change.finishedAt.map { .integer($0.milliseconds) } ?? now, change.exitCode.map { .integer(Int64($0)) } ?? .null, jobID,
                        .text(change.task),
                    ])
            case .succeeded, .failed, .skipped, .cancelled:
                try db.run(
                    """
                    UPDATE tasks SET state = ?, exit_code = ?, message = COALESCE(?, message), finished_at = ?, retry_at = NULL
                    WHERE job_id = ? AND name = ?
                    """,
                    [
                        .text(change.state.rawValue), change.exitCode.map { .integer(Int64($0)) } ?? .null, change.message.sqlValue,
                        change.finishedAt.map { .integer($0.milliseconds) } ?? now, jobID, .text(change.task),
                    ])
            }
            guard db.changes == 1 else { throw JobStoreError("job \(update.jobID) has no task \(change.task)") }
        }
        let state = SQLValue.text(update.jobState.rawValue)
        try db.run(
            """
            UPDATE jobs SET state = ?,
                started_at = CASE WHEN started_at IS NULL AND ? != 'queued' THEN ? ELSE started_at END,
                finished_at = CASE WHEN ? IN ('succeeded','failed','cancelled') THEN ? ELSE NULL END
            WHERE id = ?
            """,
            [state, state, now, state, now, jobID])
    }

    public func appendAudit(_ record: AuditRecord) throws {
        try self.write { db in try Self.insertAudit(record, into: db) }
    }

    /// Inserts an audit record inside the caller's transaction.
    private static func insertAudit(_ record: AuditRecord, into db: Connection) throws {
        let optional = { (s: String?) in s.map(SQLValue.text) ?? .null }
        try db.run(
            """
            INSERT INTO audit (at, event, decision, user, identity_source, pipeline, job_id, reason, request_id, client_address, config_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(record.at.milliseconds), .text(record.event), .text(record.allowed ? "allow" : "deny"), optional(record.user),
                optional(record.identitySource), optional(record.pipeline), record.jobID.map(SQLValue.integer) ?? .null,
                .text(record.reason), optional(record.requestID), optional(record.clientAddress), .text(record.configHash),
            ])
    }

    public func auditRecords(_ query: AuditQuery) throws -> [AuditRecord] {
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
            if scope.isEmpty { return [] }
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
            arguments.append(.text(allowed ? "allow" : "deny"))
        }
        if let before = query.beforeID {
            sql += " AND id < ?"
            arguments.append(.integer(before))
        }
        if let since = query.since {
            sql += " AND at >= ?"
            arguments.append(.integer(since.milliseconds))
        }
        sql += " ORDER BY id DESC LIMIT ?"
        arguments.append(.integer(Int64(max(0, min(query.limit, 10_000)))))
        return try self.read { db in
            // Built per filter combination: not kept in the statement cache.
            try db.query(sql, arguments, cached: false).map { row in
                AuditRecord(
                    id: row["id"].int64 ?? 0, at: Date(milliseconds: row["at"].int64 ?? 0), event: row["event"].text ?? "",
                    allowed: row["decision"].text == "allow", user: row["user"].text, identitySource: row["identity_source"].text,
                    pipeline: row["pipeline"].text, jobID: row["job_id"].int64, reason: row["reason"].text ?? "",
                    requestID: row["request_id"].text, clientAddress: row["client_address"].text, configHash: row["config_hash"].text ?? "")
            }
        }
    }

    /// Runs SQLite's own consistency check; returns its findings ("ok" when healthy).
    public func integrityCheck() throws -> [String] {
        try self.read { db in try db.query("PRAGMA integrity_check").compactMap { $0[0].text } }
    }

    private static func job(from row: Row) throws -> JobRecord {
        guard let id = row["id"].int64, let pipeline = row["pipeline"].text,
            let state = row["state"].text.flatMap(JobState.init(rawValue:)),
            let params = row["params"].text, let created = row["created_at"].int64
        else { throw JobStoreError("malformed job row") }
        return JobRecord(
            id: id, pipeline: pipeline, state: state, triggeredBy: row["triggered_by"].text ?? "",
            identitySource: row["identity_source"].text ?? "", params: try ParamsColumn.decode(params),
            workingDirectory: row["working_directory"].text ?? "", cancelRequested: row["cancel_requested"].int64 == 1,
            createdAt: Date(milliseconds: created), startedAt: row["started_at"].int64.map(Date.init(milliseconds:)),
            finishedAt: row["finished_at"].int64.map(Date.init(milliseconds:)), tasks: [], identity: row["identity"].text ?? "",
            waitsForIdentity: row["waits_for_identity"].int64 == 1,
            secretParameters: try StringArrayColumn.decode(row["secret_params"].text ?? "[]"))
    }

    private static func task(from row: Row) throws -> TaskRecord {
        guard let name = row["name"].text, let state = row["state"].text.flatMap(TaskState.init(rawValue:)),
            let needs = row["needs"].text, let argv = row["argv"].text
        else { throw JobStoreError("malformed task row") }
        guard let kind = TaskKind(rawValue: row["kind"].text ?? "command") else { throw JobStoreError("malformed task kind") }
        return TaskRecord(
            name: name, needs: try StringArrayColumn.decode(needs), argv: try StringArrayColumn.decode(argv),
            state: state, attempt: Int(row["attempt"].int64 ?? 0), pid: row["pid"].int64.map { Int32(truncatingIfNeeded: $0) },
            exitCode: row["exit_code"].int64.map { Int32(truncatingIfNeeded: $0) }, message: row["message"].text,
            startedAt: row["started_at"].int64.map(Date.init(milliseconds:)),
            finishedAt: row["finished_at"].int64.map(Date.init(milliseconds:)), kind: kind,
            options: try row["options"].text.map { try JSONCoding.decode(TaskOptions.self, $0) } ?? .standard,
            retryAt: row["retry_at"].int64.map(Date.init(milliseconds:)))
    }
}

/// JSON arrays of strings (task needs, argv): the hot columns of big jobs. Strings that need no
/// JSON escaping take a fast path that skips Foundation's coders; anything else goes through
/// them, so every stored value is valid JSON either way.
enum StringArrayColumn {
    /// Whether `s` can be written between quotes as is.
    private static func isPlain(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    static func encode(_ values: [String]) throws -> String {
        if values.isEmpty { return "[]" }
        if values.allSatisfy(Self.isPlain) { return "[\"" + values.joined(separator: "\",\"") + "\"]" }
        return try JSONCoding.encode(values)
    }

    static func decode(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        // Without a backslash no string in the array can contain an escaped quote, so `","`
        // only ever separates elements.
        let bytes = text.utf8
        if bytes.count >= 4, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]"), !bytes.contains(UInt8(ascii: "\\")) {
            // Scan the bytes once, splitting at `","`.
            var result: [String] = []
            let all = Array(bytes)
            guard all[1] == UInt8(ascii: "\""), all[all.count - 2] == UInt8(ascii: "\"") else {
                return try JSONCoding.decode([String].self, text)
            }
            var start = 2
            var i = 2
            let end = all.count - 2
            while i < end {
                if all[i] == UInt8(ascii: "\""), i + 2 < all.count, all[i + 1] == UInt8(ascii: ","), all[i + 2] == UInt8(ascii: "\"") {
                    result.append(String(decoding: all[start..<i], as: UTF8.self))
                    i += 3
                    start = i
                } else {
                    i += 1
                }
            }
            result.append(String(decoding: all[start..<end], as: UTF8.self))
            return result
        }
        return try JSONCoding.decode([String].self, text)
    }
}

/// The `params` column: a JSON object of strings, read on every job lookup. Our own parser
/// (no `JSONDecoder` setup per call), with the empty object short-cut.
enum ParamsColumn {
    static func decode(_ text: String) throws -> [String: String] {
        if text == "{}" { return [:] }
        guard case .object(let members) = try JSONParser.parse(Array(text.utf8), json5: false).value else {
            throw JobStoreError("params is not a JSON object")
        }
        var result: [String: String] = [:]
        for (name, value) in members {
            guard case .string(let text) = value else { throw JobStoreError("params.\(name) is not a string") }
            result[name] = text
        }
        return result
    }
}

/// JSON columns.
enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension Date {
    /// Milliseconds since the Unix epoch.
    var milliseconds: Int64 { Int64((self.timeIntervalSince1970 * 1000).rounded()) }

    init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
