import JobStore
import Postgres

/// The PostgreSQL job store's schema, as versioned migrations, and how they are applied.
///
/// The tables mirror SQLiteStore's `Schema` column for column (plus what only a store several
/// hosts share needs: the `hosts` table and the jobs' `owner`, `owner_epoch`; see
/// `SharedJobStore`), with PostgreSQL's types:
/// `BIGINT GENERATED ALWAYS AS IDENTITY` ids, `BIGINT` Unix-millisecond times (`StoredTime`),
/// `BOOLEAN` flags, and `TEXT COLLATE "C"` for every text column. Why "C": this project compares
/// names, users, identities and keys as bytes ("K" and U+212A KELVIN SIGN are different
/// pipelines). A deterministic collation already compares equal only byte-identical text, but
/// only "C" also *orders* by bytes and keeps the indexes independent of the server's locale
/// (whose ordering can change with a glibc upgrade and silently corrupt an index).
///
/// Migrations are applied by `migrate(_:)`, in order, each in its own transaction together with
/// its row in `sluice_schema`, while holding the session advisory lock `migrationLockKey`: hosts
/// that start together take turns, and every host after the first finds the work done. A
/// migration never changes once released; a new schema change is a new version.
enum PostgresSchema {
    /// The session advisory lock (`pg_advisory_lock`) held while migrating: 0x736c_7569_6365_0001,
    /// "sluice" in ASCII followed by 1. Fixed, so that every Sluice version and host agrees on
    /// it; documented in docs/architecture.md so that operators can see it in `pg_locks`
    /// (`classid = 1936487785, objid = 1667563521`, the key's two 32-bit halves).
    static let migrationLockKey: Int64 = 0x736c_7569_6365_0001

    /// One schema step.
    struct Migration: Sendable {
        /// The version it brings the schema to (1, 2, ...; consecutive).
        let version: Int
        /// A short name, stored in `sluice_schema`.
        let name: String
        /// The statements (a script without parameters).
        let sql: String
    }

    /// Every migration in order.
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "jobs and tasks",
            sql: """
                CREATE TABLE jobs (
                    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    pipeline           TEXT    COLLATE "C" NOT NULL,
                    state              TEXT    COLLATE "C" NOT NULL
                                       CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
                    triggered_by       TEXT    COLLATE "C" NOT NULL,
                    identity_source    TEXT    COLLATE "C" NOT NULL,
                    params             TEXT    COLLATE "C" NOT NULL,            -- ParamsColumn: JSON object of strings
                    working_directory  TEXT    COLLATE "C" NOT NULL,
                    cancel_requested   BOOLEAN NOT NULL DEFAULT false,
                    created_at         BIGINT  NOT NULL,                        -- Unix milliseconds
                    started_at         BIGINT,
                    finished_at        BIGINT,
                    identity           TEXT    COLLATE "C" NOT NULL DEFAULT '', -- pipeline + canonical significant params, hashed
                    waits_for_identity BOOLEAN NOT NULL DEFAULT false,
                    idempotency_key    TEXT    COLLATE "C",
                    request_digest     TEXT    COLLATE "C",
                    secret_params      TEXT    COLLATE "C" NOT NULL DEFAULT '[]' -- StringArrayColumn: names only, never values
                );
                CREATE INDEX jobs_unfinished ON jobs (id) WHERE state IN ('queued','running');
                CREATE INDEX jobs_by_pipeline ON jobs (pipeline, id);
                CREATE UNIQUE INDEX jobs_idempotency ON jobs (triggered_by, identity_source, idempotency_key)
                    WHERE idempotency_key IS NOT NULL;
                CREATE INDEX jobs_unfinished_by_pipeline ON jobs (pipeline, identity) WHERE state IN ('queued','running');
                CREATE TABLE tasks (
                    job_id      BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                    name        TEXT    COLLATE "C" NOT NULL,
                    position    INTEGER NOT NULL,
                    needs       TEXT    COLLATE "C" NOT NULL,                   -- StringArrayColumn: task names
                    argv        TEXT    COLLATE "C" NOT NULL,                   -- StringArrayColumn
                    state       TEXT    COLLATE "C" NOT NULL
                                CHECK (state IN ('queued','running','succeeded','failed','skipped','cancelled')),
                    attempt     INTEGER NOT NULL DEFAULT 0,
                    pid         INTEGER,
                    exit_code   INTEGER,
                    message     TEXT    COLLATE "C",
                    started_at  BIGINT,
                    finished_at BIGINT,
                    kind        TEXT    COLLATE "C" NOT NULL DEFAULT 'command' CHECK (kind IN ('command','noop')),
                    options     TEXT    COLLATE "C",                            -- TaskOptionsColumn; NULL: defaults
                    retry_at    BIGINT,                                         -- Unix ms of the next attempt
                    PRIMARY KEY (job_id, name)
                );
                """),
        Migration(
            version: 2, name: "audit log",
            sql: """
                CREATE TABLE audit (
                    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    at              BIGINT NOT NULL,                -- Unix milliseconds
                    event           TEXT   COLLATE "C" NOT NULL,    -- authenticate, trigger, cancel, retry, view, logs, reload, ...
                    decision        TEXT   COLLATE "C" NOT NULL CHECK (decision IN ('allow','deny')),
                    "user"          TEXT   COLLATE "C",
                    identity_source TEXT   COLLATE "C",
                    pipeline        TEXT   COLLATE "C",
                    job_id          BIGINT,
                    reason          TEXT   COLLATE "C" NOT NULL,
                    request_id      TEXT   COLLATE "C",
                    client_address  TEXT   COLLATE "C",
                    config_hash     TEXT   COLLATE "C" NOT NULL
                );
                CREATE INDEX audit_by_pipeline ON audit (pipeline, id);
                -- Append-only: the store never updates, deletes or truncates audit records, and these
                -- triggers refuse anyone who tries (statement-level, so even a change that matches no
                -- row is refused). A role that owns the table can still drop the triggers: a
                -- deployment runs migrations as an owner role and gives Sluice's runtime role only
                -- SELECT and INSERT on audit.
                CREATE FUNCTION sluice_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'audit records are append-only' USING ERRCODE = 'insufficient_privilege';
                END
                $$;
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION sluice_audit_append_only();
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH STATEMENT EXECUTE FUNCTION sluice_audit_append_only();
                CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION sluice_audit_append_only();
                """),
        // Several hosts on one store (`SharedJobStore`): hosts hold leases, jobs have owners.
        Migration(
            version: 3, name: "hosts and job owners",
            sql: """
                -- Every time here is Unix milliseconds by the DATABASE's clock (clock_timestamp()):
                -- hosts' clocks differ, and a lease compared with two clocks means nothing.
                CREATE TABLE hosts (
                    id               TEXT   COLLATE "C" PRIMARY KEY,  -- stable across restarts of the host
                    epoch            BIGINT NOT NULL,                 -- raised by every registration
                    lease_expires_at BIGINT NOT NULL,
                    started_at       BIGINT NOT NULL,                 -- the latest registration
                    renewed_at       BIGINT NOT NULL                  -- the latest registration or renewal
                );
                -- No foreign key to hosts: an owner is only ever set under the host's row lock
                -- (claim, take-over), hosts are never deleted, and the key's checks would lock
                -- host rows on every claim and release for nothing.
                ALTER TABLE jobs ADD COLUMN owner TEXT COLLATE "C", ADD COLUMN owner_epoch BIGINT;
                -- What claims scan (in id order) and what rescues and take-overs look up.
                CREATE INDEX jobs_claimable ON jobs (id) WHERE owner IS NULL AND state IN ('queued','running');
                CREATE INDEX jobs_unfinished_by_owner ON jobs (owner, id) WHERE owner IS NOT NULL AND state IN ('queued','running');
                """),
        // What any host must serve whichever host did the work: finished attempts' logs, and
        // secrets every host shares (the CSRF key).
        Migration(
            version: 4, name: "stored logs, shared secrets, host affinity",
            sql: """
                CREATE TABLE task_logs (
                    job_id    BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                    task      TEXT    COLLATE "C" NOT NULL,
                    attempt   INTEGER NOT NULL,
                    content   BYTEA   NOT NULL,   -- the log file as the supervisor left it (head + tail caps)
                    stored_at BIGINT  NOT NULL,   -- Unix ms
                    PRIMARY KEY (job_id, task, attempt)
                );
                CREATE TABLE shared_secrets (
                    name  TEXT  COLLATE "C" PRIMARY KEY,
                    value BYTEA NOT NULL
                );
                -- The host that holds a job's secret parameter values (NewJob.hostAffinity).
                ALTER TABLE jobs ADD COLUMN host_affinity TEXT COLLATE "C";
                """),
        Migration(
            version: 5, name: "attempt history",
            sql: """
                -- PastAttemptsColumn: the attempts before the latest, appended as the next one starts.
                ALTER TABLE tasks ADD COLUMN attempts JSONB;
                """),
        Migration(
            version: 6, name: "job overviews",
            sql: """
                -- JobOverview: each task's layer in a large job (NULL in others), and what such a job's
                -- page shows, kept when it finishes (JobOverviewColumn) and dropped when it is retried.
                ALTER TABLE tasks ADD COLUMN layer INTEGER;
                CREATE TABLE job_overviews (
                    job_id   BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
                    overview TEXT   COLLATE "C" NOT NULL
                );
                """),
        Migration(
            version: 7, name: "schedule marks",
            sql: """
                -- ScheduleMark: each schedule's next fire time and the definition it was worked out for.
                CREATE TABLE schedule_marks (
                    name         TEXT   COLLATE "C" PRIMARY KEY,
                    next_fire_at BIGINT NOT NULL,   -- Unix ms
                    fingerprint  TEXT   COLLATE "C" NOT NULL
                );
                """),
        Migration(
            version: 8, name: "job events",
            sql: """
                -- JobEvent: the outbox of job state changes, written with them; readers keep cursors.
                CREATE TABLE job_events (
                    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    job_id   BIGINT NOT NULL,
                    pipeline TEXT   COLLATE "C" NOT NULL,
                    state    TEXT   COLLATE "C" NOT NULL,
                    at       BIGINT NOT NULL    -- Unix ms
                );
                CREATE TABLE event_cursors (
                    consumer TEXT   COLLATE "C" PRIMARY KEY,
                    event_id BIGINT NOT NULL
                );
                """),
        Migration(
            version: 9, name: "webhook deliveries",
            sql: """
                -- Delivery: one notification of a job event to one webhook, retried until delivered.
                CREATE TABLE deliveries (
                    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_id        BIGINT NOT NULL,
                    job_id          BIGINT NOT NULL,
                    pipeline        TEXT   COLLATE "C" NOT NULL,
                    webhook         TEXT   COLLATE "C" NOT NULL,
                    event           TEXT   COLLATE "C" NOT NULL,
                    body            TEXT   COLLATE "C" NOT NULL,
                    state           TEXT   COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
                    attempts        INTEGER NOT NULL DEFAULT 0,
                    created_at      BIGINT NOT NULL,   -- Unix ms
                    next_attempt_at BIGINT NOT NULL,   -- Unix ms
                    last_attempt_at BIGINT,            -- Unix ms
                    last_status     INTEGER,
                    last_error      TEXT   COLLATE "C",
                    UNIQUE (event_id, webhook)
                );
                CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
                CREATE INDEX deliveries_job ON deliveries (job_id);
                """),
        Migration(
            version: 10, name: "approvals",
            sql: """
                -- Jobs may wait for approvers (awaiting_approval) and end rejected or expired.
                ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
                ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
                    CHECK (state IN ('queued','running','succeeded','failed','cancelled','awaiting_approval','rejected','expired'));
                -- ApprovalRequirement: fixed at trigger time; NULL for jobs that needed no approval.
                ALTER TABLE jobs ADD COLUMN approvals_required INTEGER, ADD COLUMN approval_expires_at BIGINT;
                CREATE INDEX jobs_awaiting_approval ON jobs (approval_expires_at) WHERE state = 'awaiting_approval';
                -- A job awaiting approval counts as a duplicate (on_duplicate): the duplicate check's own index.
                CREATE INDEX jobs_undecided_by_identity ON jobs (pipeline, identity)
                    WHERE state IN ('queued','running','awaiting_approval');
                -- ApprovalDecision: one per approver (compared as bytes: COLLATE "C") and job.
                CREATE TABLE approvals (
                    job_id          BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                    approver        TEXT    COLLATE "C" NOT NULL,
                    identity_source TEXT    COLLATE "C" NOT NULL,
                    approves        BOOLEAN NOT NULL,
                    comment         TEXT    COLLATE "C" NOT NULL,
                    at              BIGINT  NOT NULL,   -- Unix ms
                    PRIMARY KEY (job_id, approver)
                );
                """),
    ]

    /// The schema version this program writes and reads.
    static var currentVersion: Int { Self.migrations.last?.version ?? 0 }

    /// Brings the schema in the connection's current schema (the first of its `search_path`) up
    /// to `currentVersion`, holding `migrationLockKey`; does nothing if it is there already.
    /// - Returns: the versions applied here (empty if another host, or an earlier start, did it).
    /// - Throws: `PostgresError`; `JobStoreError` if the database is newer than this program.
    @discardableResult
    static func migrate(_ connection: PostgresConnection) throws -> [Int] {
        try connection.withAdvisoryLock(key: Self.migrationLockKey) {
            // Inside the lock: two hosts creating it at once would race on the catalog. Looked
            // up first rather than `CREATE TABLE IF NOT EXISTS`, which needs the CREATE privilege
            // even when the table exists: a runtime role without it (see the audit guard) must
            // still be able to open a migrated database.
            let exists =
                try connection.execute(
                    "SELECT to_regclass(quote_ident(current_schema()) || '.sluice_schema') IS NOT NULL"
                ).first?.bool(0) == true
            if !exists {
                try connection.execute(
                    """
                    CREATE TABLE sluice_schema (
                        version    INTEGER PRIMARY KEY,
                        name       TEXT COLLATE "C" NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                    )
                    """)
            }
            let current = Int(try connection.execute("SELECT coalesce(max(version), 0) FROM sluice_schema").first?.int64(0) ?? 0)
            guard current <= Self.currentVersion else {
                throw JobStoreError(
                    "the PostgreSQL job store's schema is at version \(current), newer than this program's \(Self.currentVersion)")
            }
            var applied: [Int] = []
            for migration in Self.migrations where migration.version > current {
                try connection.transaction {
                    try connection.executeScript(migration.sql)
                    try connection.execute(
                        "INSERT INTO sluice_schema (version, name) VALUES ($1, $2)",
                        [.int64(Int64(migration.version)), .text(migration.name)])
                }
                applied.append(migration.version)
            }
            return applied
        }
    }
}
