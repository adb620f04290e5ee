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
    ])
}
