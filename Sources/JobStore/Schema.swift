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
                """)
    ])
}
