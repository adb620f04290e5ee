import Foundation
import Postgres
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice serve` with `store.postgres`, behind a real lighttpd, on the private PostgreSQL cluster
/// `scripts/test` starts: a trigger is committed to and run from PostgreSQL (no SQLite file
/// appears), `/healthz` names the store, the password comes from a file, and a second `serve` on
/// the same database and schema is refused (no task leases yet, so it would run every task twice).
@Suite(
    "Sluice on a PostgreSQL store", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)))
struct PostgresServeTests {
    /// A fresh schema in the test database; dropped by the returned closure.
    static func makeSchema() throws -> (connection: String, drop: () -> Void) {
        let url = try TestPostgres.requireURL()
        let schema = TestPostgres.uniqueName("serve")
        let admin = try PostgresConnection(url, password: TestPostgres.password)
        _ = try admin.execute("CREATE SCHEMA \(schema)")
        admin.close()
        return (
            TestPostgres.connection(url, searchPath: schema),
            {
                if let admin = try? PostgresConnection(url, password: TestPostgres.password) {
                    _ = try? admin.execute("DROP SCHEMA \(schema) CASCADE")
                    admin.close()
                }
            }
        )
    }

    /// The Sluice config: `store.postgres` with `connection`, the password in `pgpw` next to it.
    static func config(directory: String, connection: String, dataDirectory: String = "data") -> String {
        let url = String(decoding: try! JSONEncoder().encode(connection), as: UTF8.self)
        return """
            {
              server: { base_path: "/sluice", data_dir: "\(directory)/\(dataDirectory)", threads: 4, parallelism: 2 },
              store: { postgres: { url: \(url), password_file: "pgpw", pool: 2 } },
              roles: { ops: { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "logs"] }] } },
              pipelines: {
                pair: { tasks: { first: { run: ["/bin/echo", "one"] }, second: { run: ["/bin/echo", "two"], needs: ["first"] } } },
              },
            }

            """
    }

    /// lighttpd and sluice on the store at `connection`, with the password in `pgpw`.
    static func start(_ connection: String) async throws -> LighttpdHarness {
        var options = LighttpdHarness.Options()
        options.files["pgpw"] = (TestPostgres.password ?? "") + "\n"
        return try await LighttpdHarness.start(options) { Self.config(directory: $0, connection: connection) }
    }

    @Test("A trigger is committed to PostgreSQL and runs; /healthz says postgres; no SQLite file is made")
    func triggerRunsOnPostgres() async throws {
        let (connection, drop) = try Self.makeSchema()
        defer { drop() }
        let harness = try await Self.start(connection)
        defer { harness.shutdown() }

        let health = try harness.client.send("GET", "/sluice/healthz")
        #expect(try health.jsonObject()["store"] as? String == "postgres", "\(health)")
        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/pair/jobs", #"{"params":{}}"#, as: "alice")
        try #require(accepted.status == 202, "\(accepted)\n\(harness.logs())")
        let location = try #require(accepted.header("Location"))
        let job = try await harness.waitForJob(at: location, as: "alice", every: .milliseconds(100)) { $0.isFinished }
        #expect(job.state == "succeeded", "\(job.summary)\n\(harness.logs())")

        // The job is in PostgreSQL, as the database itself says.
        let db = try PostgresConnection(connection, password: TestPostgres.password)
        defer { db.close() }
        let rows = try db.execute("SELECT state FROM jobs WHERE id = $1", [.int64(Int64(try JobDocument.decode(accepted.body).id))])
        try #require(rows.count == 1)
        #expect(try rows[0].string(0) == "succeeded")
        #expect(!FileManager.default.fileExists(atPath: harness.directory + "/data/sluice.db"), "the SQLite store must not be opened")
    }

    @Test("A password that cannot be read stops serve at start with the reason, never the password")
    func unreadablePassword() throws {
        let (connection, drop) = try Self.makeSchema()
        defer { drop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Self.config(directory: dir.path, connection: connection).utf8).write(to: URL(fileURLWithPath: dir.file("sluice.json5")))
        let binary = try LighttpdHarness.findSluiceBinary()
        let result = try ChildProcess.run(
            binary, ["serve", "--config", dir.file("sluice.json5"), "--socket", dir.file("s.sock")], timeout: .seconds(20))
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("store.postgres.password_file: cannot read"), "\(result.stderr)")
    }
}
