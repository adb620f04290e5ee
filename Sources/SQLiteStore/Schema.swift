import SQLite

/// The job store's schema, as ordered migrations.
enum Schema {
    static let migrator = Migrator([
        .init(
            name: "jobs and tasks",
            sql: """
                CREATE TABLE jobs (
                    id                INTEGER PRIMARY KEY AUTOINCREMENT,
                    pipeline          TEXT    NOT NULL,
                    state             TEXT    NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
                    triggered_by      TEXT    NOT NULL,
                    identity_source   TEXT    NOT NULL,
                    params            TEXT    NOT NULL,            -- JSON object of strings
                    working_directory TEXT    NOT NULL,
                    cancel_requested  INTEGER NOT NULL DEFAULT 0,
                    created_at        INTEGER NOT NULL,            -- Unix milliseconds
                    started_at        INTEGER,
                    finished_at       INTEGER
                );
                CREATE INDEX jobs_unfinished ON jobs(id) WHERE state IN ('queued','running');
                CREATE INDEX jobs_by_pipeline ON jobs(pipeline, id);
                CREATE TABLE tasks (
                    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    name        TEXT    NOT NULL,
                    position    INTEGER NOT NULL,
                    needs       TEXT    NOT NULL,                  -- JSON array of task names
                    argv        TEXT    NOT NULL,                  -- JSON array of strings
                    state       TEXT    NOT NULL CHECK (state IN ('queued','running','succeeded','failed','skipped','cancelled')),
                    attempt     INTEGER NOT NULL DEFAULT 0,
                    pid         INTEGER,
                    exit_code   INTEGER,
                    message     TEXT,
                    started_at  INTEGER,
                    finished_at INTEGER,
                    PRIMARY KEY (job_id, name)
                ) WITHOUT ROWID;
                """),
        .init(
            name: "audit log",
            sql: """
                CREATE TABLE audit (
                    id              INTEGER PRIMARY KEY AUTOINCREMENT,
                    at              INTEGER NOT NULL,          -- Unix milliseconds
                    event           TEXT    NOT NULL,          -- authenticate, trigger, cancel, retry, view, logs, reload, ...
                    decision        TEXT    NOT NULL CHECK (decision IN ('allow', 'deny')),
                    user            TEXT,
                    identity_source TEXT,
                    pipeline        TEXT,
                    job_id          INTEGER,
                    reason          TEXT    NOT NULL,
                    request_id      TEXT,
                    client_address  TEXT,
                    config_hash     TEXT    NOT NULL
                );
                CREATE INDEX audit_by_pipeline ON audit(pipeline, id);
                -- Append-only: the store never updates or deletes audit records.
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
                """),
        .init(
            name: "task options, retries, deduplication, idempotency, secrets",
            sql: """
                ALTER TABLE jobs ADD COLUMN identity TEXT NOT NULL DEFAULT '';         -- pipeline + canonical significant params, hashed
                ALTER TABLE jobs ADD COLUMN waits_for_identity INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
                ALTER TABLE jobs ADD COLUMN request_digest TEXT;
                ALTER TABLE jobs ADD COLUMN secret_params TEXT NOT NULL DEFAULT '[]';  -- names only, never values
                CREATE UNIQUE INDEX jobs_idempotency ON jobs(triggered_by, identity_source, idempotency_key)
                    WHERE idempotency_key IS NOT NULL;
                CREATE INDEX jobs_unfinished_by_pipeline ON jobs(pipeline, identity) WHERE state IN ('queued','running');
                ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'command' CHECK (kind IN ('command','noop'));
                ALTER TABLE tasks ADD COLUMN options TEXT;                              -- JSON TaskOptions; NULL: defaults
                ALTER TABLE tasks ADD COLUMN retry_at INTEGER;                          -- Unix ms of the next attempt
                """),
        .init(
            name: "attempt history",
            sql: """
                -- PastAttemptsColumn: the attempts before the latest, appended as the next one starts.
                ALTER TABLE tasks ADD COLUMN attempts TEXT;
                """),
        .init(
            name: "job overviews",
            sql: """
                -- JobOverview: each task's layer in a large job (NULL in others), and what such a job's
                -- page shows, kept when it finishes (JobOverviewColumn) and dropped when it is retried.
                ALTER TABLE tasks ADD COLUMN layer INTEGER;
                CREATE TABLE job_overviews (
                    job_id   INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
                    overview TEXT    NOT NULL
                );
                """),
        .init(
            name: "schedule marks",
            sql: """
                -- ScheduleMark: each schedule's next fire time and the definition it was worked out for.
                CREATE TABLE schedule_marks (
                    name         TEXT    PRIMARY KEY,
                    next_fire_at INTEGER NOT NULL,   -- Unix ms
                    fingerprint  TEXT    NOT NULL
                ) WITHOUT ROWID;
                """),
        .init(
            name: "job events",
            sql: """
                -- JobEvent: the outbox of job state changes, written with them; readers keep cursors.
                CREATE TABLE job_events (
                    id       INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id   INTEGER NOT NULL,
                    pipeline TEXT    NOT NULL,
                    state    TEXT    NOT NULL,
                    at       INTEGER NOT NULL    -- Unix ms
                );
                CREATE TABLE event_cursors (
                    consumer TEXT    PRIMARY KEY,
                    event_id INTEGER NOT NULL
                ) WITHOUT ROWID;
                """),
        .init(
            name: "webhook deliveries",
            sql: """
                -- Delivery: one notification of a job event to one webhook, retried until delivered.
                CREATE TABLE deliveries (
                    id              INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id        INTEGER NOT NULL,
                    job_id          INTEGER NOT NULL,
                    pipeline        TEXT    NOT NULL,
                    webhook         TEXT    NOT NULL,
                    event           TEXT    NOT NULL,
                    body            TEXT    NOT NULL,
                    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
                    attempts        INTEGER NOT NULL DEFAULT 0,
                    created_at      INTEGER NOT NULL,   -- Unix ms
                    next_attempt_at INTEGER NOT NULL,   -- Unix ms
                    last_attempt_at INTEGER,            -- Unix ms
                    last_status     INTEGER,
                    last_error      TEXT,
                    UNIQUE (event_id, webhook)
                );
                CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending';
                CREATE INDEX deliveries_job ON deliveries(job_id);
                """),
        .init(
            name: "approvals",
            rebuildingTables: { db in try Schema.rebuildJobsWithApprovalStates(db) },
            sql: """
                -- ApprovalRequirement: fixed at trigger time; NULL for jobs that needed no approval.
                ALTER TABLE jobs ADD COLUMN approvals_required INTEGER;
                ALTER TABLE jobs ADD COLUMN approval_expires_at INTEGER;   -- Unix ms
                CREATE INDEX jobs_awaiting_approval ON jobs(approval_expires_at) WHERE state = 'awaiting_approval';
                -- A job awaiting approval counts as a duplicate (on_duplicate): the duplicate check's own
                -- index (SQLite uses a partial index only for a query with the same IN list, so the
                -- queue count keeps jobs_unfinished_by_pipeline).
                CREATE INDEX jobs_undecided_by_identity ON jobs(pipeline, identity)
                    WHERE state IN ('queued','running','awaiting_approval');
                -- ApprovalDecision: one per approver (compared as bytes: BINARY) and job.
                CREATE TABLE approvals (
                    job_id          INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    approver        TEXT    NOT NULL,
                    identity_source TEXT    NOT NULL,
                    approves        INTEGER NOT NULL CHECK (approves IN (0, 1)),
                    comment         TEXT    NOT NULL,
                    at              INTEGER NOT NULL,   -- Unix ms
                    PRIMARY KEY (job_id, approver)
                ) WITHOUT ROWID;
                """),
        .init(
            name: "comparisons instead of constant lists",
            rebuildingTables: { db in
                try Schema.rebuild(db, table: "jobs", replacing: Schema.jobStatesAfter, with: Schema.jobStatesCompared)
                try Schema.rebuild(db, table: "tasks", replacing: Schema.taskStatesListed, with: Schema.taskStatesCompared)
                try Schema.rebuild(db, table: "deliveries", replacing: Schema.deliveryStatesListed, with: Schema.deliveryStatesCompared)
            },
            sql: """
                -- The duplicate check's index, with the same comparisons as its query (SQLiteJobStore.decide).
                DROP INDEX jobs_undecided_by_identity;
                CREATE INDEX jobs_undecided_by_identity ON jobs(pipeline, identity) WHERE \(Schema.undecidedStates);
                """),
    ])

    // Why comparisons: SQLite 3.40 evaluates `x IN (a, b, c)` with three or more constants by
    // building a temporary b-tree of the constants each time the statement runs; in a CHECK or a
    // partial index's WHERE that is every INSERT and UPDATE of a row. A trigger's profile found
    // it in every job and task insert and every runner update (an insert with an 8-value IN
    // CHECK took 7.7 µs against 3.2 µs with the same test as comparisons). Lists of two
    // constants are compared directly and stay as they are. These texts are part of migrations
    // that have run: never change them, add a migration.

    /// The CHECK on `tasks.state` as the first migration wrote it.
    static let taskStatesListed = "CHECK (state IN ('queued','running','succeeded','failed','skipped','cancelled'))"
    /// The same CHECK as comparisons.
    static let taskStatesCompared =
        "CHECK (state = 'queued' OR state = 'running' OR state = 'succeeded' OR state = 'failed' OR state = 'skipped' OR state = 'cancelled')"
    /// The CHECK on `jobs.state` (`jobStatesAfter`) as comparisons.
    static let jobStatesCompared =
        "CHECK (state = 'queued' OR state = 'running' OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled' "
        + "OR state = 'awaiting_approval' OR state = 'rejected' OR state = 'expired')"
    /// The CHECK on `deliveries.state` as its migration wrote it.
    static let deliveryStatesListed = "CHECK (state IN ('pending','delivered','failed'))"
    /// The same CHECK as comparisons.
    static let deliveryStatesCompared = "CHECK (state = 'pending' OR state = 'delivered' OR state = 'failed')"
    /// The states of a job that has not been decided (a duplicate of it is refused or joined):
    /// the WHERE of `jobs_undecided_by_identity` and of the query that uses it, which must be
    /// the same expression for SQLite to choose the index.
    static let undecidedStates = "(state = 'queued' OR state = 'running' OR state = 'awaiting_approval')"

    /// Rebuilds `table` with `old` (which its definition must hold exactly once) replaced by
    /// `new`, by SQLite's documented procedure: a new table from the schema's own definition
    /// (every column added since included), the rows copied, the old table dropped, the new one
    /// renamed, its indexes and triggers made again, and its AUTOINCREMENT counter kept (so ids
    /// of deleted rows are never reused). Run it inside a migration that rebuilds tables
    /// (foreign keys off, checked before the commit).
    static func rebuild(_ db: Connection, table: String, replacing old: String, with new: String) throws {
        guard
            let definition = try db.query("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(table)]).first?[0].text,
            let open = definition.firstIndex(of: "("), definition.components(separatedBy: old).count == 2
        else { throw SQLiteError(code: 1, message: "the \(table) table is not as the earlier migrations left it") }
        let dependents = try db.query(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid",
            [.text(table)]
        ).compactMap { $0[0].text }
        let sequence = try db.query("SELECT seq FROM sqlite_sequence WHERE name = ?", [.text(table)]).first?[0].int64
        let rebuilt = "CREATE TABLE \(table)_rebuilt " + definition[open...]
        try db.execute(rebuilt.replacingOccurrences(of: old, with: new))
        try db.execute("INSERT INTO \(table)_rebuilt SELECT * FROM \(table)")
        try db.execute("DROP TABLE \(table)")
        try db.execute("ALTER TABLE \(table)_rebuilt RENAME TO \(table)")
        for sql in dependents { try db.execute(sql) }
        if let sequence {
            // The copy set the counter to the highest id copied; a deleted row's id may have been higher.
            try db.run(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                [.text(table), .text(table)])
            try db.run("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [.integer(sequence), .text(table)])
        }
    }

    /// The CHECK on `jobs.state` before approvals, exactly as the first migration wrote it.
    static let jobStatesBefore = "CHECK (state IN ('queued','running','succeeded','failed','cancelled'))"
    /// The CHECK with the approval states.
    static let jobStatesAfter =
        "CHECK (state IN ('queued','running','succeeded','failed','cancelled','awaiting_approval','rejected','expired'))"

    /// Rebuilds `jobs` with `jobStatesAfter` (SQLite cannot change a CHECK in place; see `rebuild`).
    static func rebuildJobsWithApprovalStates(_ db: Connection) throws {
        try self.rebuild(db, table: "jobs", replacing: Self.jobStatesBefore, with: Self.jobStatesAfter)
    }
}
