import Foundation
import JobStore
import Postgres
import PostgresStore
import TestSupport

/// `PostgresJobStore` in a schema of its own, made for this harness in the test database and
/// dropped by `tearDown()`: every session of the store (and of the harness's raw connections)
/// gets `search_path` set to it through the connection string's `options`. A schema rather than
/// a database per test keeps the suite fast (no `CREATE DATABASE` copying a template).
struct PostgresHarness: StoreHarness {
    /// The schema's name.
    let schema: String
    /// The connection string with the schema as `search_path`.
    let connection: String
    let clock: TestClock
    let postgres: PostgresJobStore
    var store: any JobStore { self.postgres }

    init(clock: TestClock) throws {
        let base = try TestPostgres.requireURL()
        self.schema = TestPostgres.uniqueName("sluice_store_test")
        self.clock = clock
        try PostgresConnection(base, password: TestPostgres.password).execute("CREATE SCHEMA " + PostgresIdentifier.quoted(self.schema))
        self.connection = TestPostgres.connection(base, searchPath: self.schema)
        self.postgres = try PostgresJobStore(connection: self.connection, password: TestPostgres.password, poolSize: 3, now: clock.function)
    }

    func reopen() throws -> any JobStore {
        try PostgresJobStore(connection: self.connection, password: TestPostgres.password, poolSize: 3, now: self.clock.function)
    }

    /// A connection of its own, behind the store's back.
    private func raw() throws -> PostgresConnection { try PostgresConnection(self.connection, password: TestPostgres.password) }

    /// PostgreSQL has no `PRAGMA integrity_check`: what the store relies on is checked by query.
    /// Orphaned tasks (the foreign key should make them impossible), task positions that are not
    /// 0..<n, job finish times that disagree with the state (`RecordRules`), constraints not
    /// validated, indexes not valid, and the audit guard's triggers missing or disabled.
    func consistencyProblems() throws -> [String] {
        try self.raw().execute(
            """
            SELECT 'task ' || t.name || ' of missing job ' || t.job_id FROM tasks t LEFT JOIN jobs j ON j.id = t.job_id WHERE j.id IS NULL
            UNION ALL
            SELECT 'job ' || job_id || ' has task positions other than 0..<' || count(*) FROM tasks GROUP BY job_id
                HAVING min(position) <> 0 OR max(position) <> count(*) - 1 OR count(DISTINCT position) <> count(*)
            UNION ALL
            SELECT 'job ' || id || ' is ' || state || ' but has a finish time' FROM jobs
                WHERE state IN ('queued','running') AND finished_at IS NOT NULL
            UNION ALL
            SELECT 'job ' || id || ' is ' || state || ' but has no finish time' FROM jobs
                WHERE state IN ('succeeded','failed','cancelled') AND finished_at IS NULL
            UNION ALL
            SELECT 'constraint ' || conname || ' is not validated' FROM pg_constraint
                WHERE connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND NOT convalidated
            UNION ALL
            SELECT 'index ' || c.relname || ' is not valid' FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                AND NOT (i.indisvalid AND i.indisready)
            UNION ALL
            SELECT 'audit trigger ' || name || ' is missing or disabled'
                FROM unnest(ARRAY['audit_no_update', 'audit_no_delete', 'audit_no_truncate']) AS name
                WHERE NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'audit'::regclass AND tgname = name AND tgenabled <> 'D')
            """
        ).compactMap { try $0.string(0) }
    }

    func tamperWithAudit() throws { try self.raw().execute("UPDATE audit SET \"user\" = 'mallory'") }

    func deleteAudit() throws { try self.raw().execute("DELETE FROM audit") }

    func breakAuditInserts() throws {
        try self.raw().executeScript(
            """
            CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no room for audit'; END $$;
            CREATE TRIGGER audit_broken BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_broken();
            """)
    }

    func tearDown() {
        self.postgres.close()
        guard let base = TestPostgres.url, let name = try? PostgresIdentifier.quoted(self.schema) else { return }
        _ = try? PostgresConnection(base, password: TestPostgres.password).execute("DROP SCHEMA \(name) CASCADE")
    }
}
