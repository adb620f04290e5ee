import Foundation
import HTTP
import JobStore
import SQLite
import SQLiteStore
import TestSupport
import Testing

@testable import Sluice

#if canImport(Glibc)
    import Glibc
#endif

/// Storage trouble is an honest 503/507 with Retry-After, never a generic 500; reads and
/// `/healthz` keep answering; nothing is half done.
@Suite("Storage trouble: busy and full")
struct StorageTroubleTests {
    /// An app over a store with a short busy timeout (so the test does not wait 5 s).
    static func app(_ h: AppHarness, storePath: String) throws -> (App, SQLiteJobStore) {
        let store = try SQLiteJobStore(path: storePath, busyTimeoutMilliseconds: 200)
        return (App(configuration: h.configuration, store: store, runner: nil), store)
    }

    static func send(_ app: App, _ method: String, _ path: String, body: String = "") -> HTTPResponse {
        AppHarness.answer(
            app.respond(
                to: HTTPRequest(
                    method: method, requestURI: "/sluice" + path, scriptName: "/sluice",
                    params: [
                        "REMOTE_USER": "bob", "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json",
                        "CONTENT_LENGTH": String(body.utf8.count),
                    ], body: Array(body.utf8))))
    }

    @Test("A trigger behind another process's write lock is 503 with Retry-After; reads and /healthz still answer")
    func busy() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let (app, store) = try Self.app(h, storePath: h.directory.file("busy.db"))
        let first = Self.send(app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-05-01"}}"#)
        #expect(first.status.code == 202)
        #expect(try AppHarness.json(Self.send(app, "GET", "/healthz"))["status"] as? String == "ok")

        // Another process (here: another connection) holds the write lock.
        let holder = try Connection(path: h.directory.file("busy.db"))
        try holder.execute(
            "BEGIN EXCLUSIVE; INSERT INTO audit (at, event, decision, reason, config_hash) VALUES (0, 'x', 'deny', 'r', 'h');")
        let refused = Self.send(app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-05-02"}}"#)
        #expect(refused.status.code == 503)
        #expect(refused.header("Retry-After") == "2")
        #expect(try AppHarness.jsonError(refused)["message"] as? String == StorageUnavailable(.busy, detail: "").message)
        // Reads do not wait for the writer (WAL), and /healthz touches no database.
        #expect(Self.send(app, "GET", "/api/v1/jobs").status.code == 200)
        let health = try AppHarness.json(Self.send(app, "GET", "/healthz"))
        #expect(health["status"] as? String == "degraded")
        #expect(health["storage_errors"] as? Int == 1)
        #expect(health["store"] as? String == "sqlite")

        try holder.execute("ROLLBACK;")
        #expect(try store.jobs(JobQuery()).count == 1)
        let later = Self.send(app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-05-02"}}"#)
        #expect(later.status.code == 202)
    }

    @Test(
        "On a full file system a trigger is 507 with Retry-After and stores nothing; the store is intact afterwards",
        .enabled(if: Tmpfs.canMount, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func full() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let mountPoint = h.directory.file("small")
        try Tmpfs.mount(at: mountPoint, size: "1m")
        defer { Tmpfs.unmount(mountPoint) }
        let (app, store) = try Self.app(h, storePath: mountPoint + "/sluice.db")
        #expect(
            Self.send(app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-05-01"}}"#).status.code == 202)
        // Fill the file system to the last byte.
        let filler = mountPoint + "/filler"
        let fd = open(filler, O_CREAT | O_WRONLY, 0o600)
        let block = [UInt8](repeating: 0x78, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)

        var codes: [Int] = []
        for day in 2...9 {
            let big = String(repeating: "x", count: 3000)
            let response = Self.send(
                app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-05-0\#(day)", "env": "\#(big)"}}"#)
            codes.append(response.status.code)
            if response.status.code == 507 { #expect(response.header("Retry-After") == "60") }
        }
        #expect(codes.contains(507), "codes: \(codes)")
        #expect(!codes.contains(500), "codes: \(codes)")
        let health = try AppHarness.json(Self.send(app, "GET", "/healthz"))
        #expect(health["status"] as? String == "degraded")
        // Room again: every acknowledged job is there, and the database is intact.
        unlink(filler)
        let acknowledged = codes.filter { $0 == 202 }.count
        #expect(try store.jobs(JobQuery()).count == 1 + acknowledged)
        #expect(try store.integrityCheck() == ["ok"])
        #expect(
            Self.send(app, "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params": {"date": "2024-06-01"}}"#).status.code == 202)
    }
}
