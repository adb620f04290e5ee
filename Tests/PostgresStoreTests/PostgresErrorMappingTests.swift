import Foundation
import JobStore
import Postgres
import TestSupport
import Testing

@testable import PostgresStore

/// Which PostgreSQL errors are outages (`StorageUnavailable`, answered 503/507) and which stay
/// errors; no server needed.
@Suite struct PostgresErrorClassificationTests {
    @Test(
        "SQLSTATEs and lost connections become StorageUnavailable of the right kind",
        arguments: [
            ("53100", PostgresError.Kind.query, StorageUnavailable.Kind.full),
            ("53300", .query, .busy), ("57P03", .query, .busy), ("55P03", .query, .busy), ("57014", .query, .busy),
            ("40001", .query, .busy), ("40P01", .query, .busy), ("53200", .query, .busy),
            ("57P01", .connection, .io), ("57P02", .query, .io), ("08006", .query, .io), ("58030", .query, .io), ("25006", .query, .io),
        ] as [(String, PostgresError.Kind, StorageUnavailable.Kind)])
    func outages(sqlState: String, kind: PostgresError.Kind, expected: StorageUnavailable.Kind) throws {
        let error = PostgresError(kind: kind, sqlState: sqlState, message: "m")
        #expect(StorageUnavailable(classifying: error)?.kind == expected)
    }

    @Test("A broken or refused connection is .io, a full server .busy, whatever libpq's message")
    func connections() {
        let lost = PostgresError(kind: .connection, message: "server closed the connection unexpectedly")
        #expect(StorageUnavailable(classifying: lost)?.kind == .io)
        let full = PostgresError(kind: .connection, message: "FATAL:  sorry, too many clients already")
        #expect(StorageUnavailable(classifying: full)?.kind == .busy)
    }

    @Test(
        "Constraint violations, syntax errors, raised exceptions and misuse stay errors",
        arguments: [
            PostgresError(kind: .query, sqlState: "23505", message: "duplicate key"),
            PostgresError(kind: .query, sqlState: "23503", message: "foreign key"),
            PostgresError(kind: .query, sqlState: "42601", message: "syntax error"),
            PostgresError(kind: .query, sqlState: "P0001", message: "raised"),
            PostgresError(kind: .query, sqlState: "42501", message: "audit records are append-only"),
            PostgresError(kind: .result, message: "column is text"),
            PostgresError(kind: .invalidArgument, message: "NUL"),
        ])
    func bugs(error: PostgresError) {
        #expect(StorageUnavailable(classifying: error) == nil)
    }

    @Test("Advisory lock keys are stable across hosts and versions, and byte-exact")
    func lockKeys() {
        // Pinned: every host must derive the same key, so this value may never change.
        #expect(AdvisoryLockKey.key([], namespace: "") == Int64(bitPattern: 0xaf63_bd4c_8601_b7df))
        #expect(AdvisoryLockKey.pipeline("K", namespace: "public") != AdvisoryLockKey.pipeline("\u{212A}", namespace: "public"))
        #expect(AdvisoryLockKey.pipeline("etl", namespace: "a") != AdvisoryLockKey.pipeline("etl", namespace: "b"))
        // The parts are separated: ("ab", "c") is not ("a", "bc").
        #expect(
            AdvisoryLockKey.idempotencyKey(user: "ab", identitySource: "c", key: "k", namespace: "n")
                != AdvisoryLockKey.idempotencyKey(user: "a", identitySource: "bc", key: "k", namespace: "n"))
        #expect(AdvisoryLockKey.pipeline("etl", namespace: "n") == AdvisoryLockKey.pipeline("etl", namespace: "n"))
    }
}

/// Errors against a real server: a lost connection, a wrong password, another host's lock.
@Suite(ServerTrait.enabled)
struct PostgresStoreErrorTests {
    private static func job(_ pipeline: String = "etl") -> NewJob {
        NewJob(
            pipeline: pipeline, triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/",
            tasks: [TaskRecord(name: "t", needs: [], argv: ["/bin/true"])])
    }

    /// Either the call's result, or a `StorageUnavailable(.io)`; anything else is recorded.
    private static func succeedsOrIO<T>(_ what: String, _ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch let error as StorageUnavailable {
            #expect(error.kind == .io, "\(what): \(error)")
        } catch {
            Issue.record("\(what): expected success or StorageUnavailable(.io), got \(error)")
        }
        return nil
    }

    @Test("After pg_terminate_backend the next calls succeed on a new connection (or report StorageUnavailable(.io))")
    func terminatedBackend() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let application = TestPostgres.uniqueName("sluice_terminated")
        // One connection, so that the terminated one is the one the next call gets.
        let store = try schema.store(poolSize: 1, extra: " application_name=\(application)")
        let first = try store.createJob(Self.job())
        let admin = try schema.connect()
        func terminate() throws {
            let killed = try admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1", [.text(application)])
            #expect(killed.count == 1)
        }
        try terminate()
        _ = Self.succeedsOrIO("read") { try store.job(id: first.id) }
        try terminate()
        let submitted = Self.succeedsOrIO("write") { try store.submit(Self.job(), rules: SubmissionRules()) }
        try terminate()
        _ = Self.succeedsOrIO("record") {
            try store.record(jobID: first.id, changes: [TaskChange(task: "t", state: .running)], jobState: .running)
        }
        // Whatever happened, the store works again afterwards, and nothing was half-done.
        #expect(try store.job(id: first.id) != nil)
        if case .created(let job) = submitted {
            #expect(try store.job(id: job.id)?.tasks.count == 1)
        }
        #expect(try store.jobs(JobQuery()).allSatisfy { $0.state == .queued || $0.state == .running })
    }

    @Test("A wrong password fails at open with a clear error that does not quote it")
    func wrongPassword() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let wrong = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let error = try #require(throws: JobStoreError.self) {
            try PostgresJobStore(connection: schema.connection, password: wrong)
        }
        #expect(error.reason.contains("cannot connect"))
        #expect(error.reason.contains("password authentication failed"))
        #expect(!error.description.contains(wrong))
    }

    @Test("No server at all fails at open with a clear error")
    func noServer() throws {
        let directory = try TemporaryDirectory(prefix: "sluice-pgstore-none", in: "/tmp")
        defer { directory.remove() }
        let error = try #require(throws: JobStoreError.self) {
            try PostgresJobStore(connection: "host=\(directory.path) port=5 dbname=x user=x connect_timeout=5", password: "x")
        }
        #expect(error.reason.contains("cannot connect"))
    }

    @Test("A submission waits for another host's lock on its pipeline, and past the busy timeout reports StorageUnavailable(.busy)")
    func pipelineLockHeldElsewhere() throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let store = try schema.store(busyTimeoutMilliseconds: 300)
        _ = try store.createJob(Self.job("warm-up"))
        let other = try schema.connect()
        let key = AdvisoryLockKey.pipeline("etl", namespace: schema.name)
        try other.execute("SELECT pg_advisory_lock($1)", [.int64(key)])
        let error = try #require(throws: StorageUnavailable.self) { try store.submit(Self.job(), rules: SubmissionRules()) }
        #expect(error.kind == .busy)
        // Other pipelines do not wait for it.
        _ = try Fixture.created(try store.submit(Self.job("other"), rules: SubmissionRules()))
        try other.execute("SELECT pg_advisory_unlock($1)", [.int64(key)])
        _ = try Fixture.created(try store.submit(Self.job(), rules: SubmissionRules()))
        #expect(try store.jobs(JobQuery(pipelines: ["etl"])).count == 1)
    }
}

/// Small helpers.
enum Fixture {
    /// The job a submission created; throws otherwise.
    static func created(_ submission: Submission) throws -> JobRecord {
        guard case .created(let job) = submission else { throw JobStoreError("expected a new job, got \(submission)") }
        return job
    }
}
