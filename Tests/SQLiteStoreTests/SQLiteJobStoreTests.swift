import Foundation
import JobStore
import SQLite
import TestSupport
import Testing

@testable import SQLiteStore

/// What only the SQLite store has: its file, its pragmas, its schema, its columns as text and
/// its error codes. The protocol's behaviour is JobStoreTests' suite, run against this store too.
@Suite struct SQLiteJobStoreTests {
    @Test("Opening a store switches the database file to WAL journal mode")
    func walMode() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("jobs.sqlite")
        // A plain SQLite database starts in rollback-journal mode...
        #expect(try Connection(path: path).query("PRAGMA journal_mode").first?[0] == .text("delete"))
        let store = try SQLiteJobStore(path: path)
        _ = try store.createJob(Fixtures.job())
        // ...and WAL is a property of the file, so a separate connection observes the store's
        // choice. `synchronous = FULL` is per connection and cannot be observed from outside the
        // store: a second connection reports only its own (compile-time default) setting.
        let other = try Connection(path: path)
        #expect(try other.query("PRAGMA journal_mode").first?[0] == .text("wal"))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try other.query("PRAGMA user_version").first?[0] == .integer(10), "all ten migrations applied")
    }

    @Test("Opening a store fails for an unusable path or a database from a newer schema")
    func openFailures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: (any Error).self) { try SQLiteJobStore(path: dir.file("missing/jobs.sqlite")) }
        let path = dir.file("newer.sqlite")
        try Connection(path: path).execute("PRAGMA user_version = 99")
        #expect(throws: (any Error).self) { try SQLiteJobStore(path: path) }
    }

    @Test("integrityCheck reports ok for a healthy store")
    func integrity() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        #expect(try store.integrityCheck() == ["ok"])
        _ = try store.createJob(Fixtures.job())
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test("Columns hold the shared encodings: JSON arrays (compact when plain), sorted params, NULL for default options")
    func storedColumns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        var new = Fixtures.job(params: ["b": "2", "a": "\"1\""])
        let options = TaskOptions(retry: RetryPolicy(retries: 1), resources: ["db": 1])
        new.tasks = [
            TaskRecord(name: "plain", needs: [], argv: ["a", "b", "c"]),
            TaskRecord(name: "quoted", needs: ["plain"], argv: ["echo \"hi\"", "back\\slash", "new\nline"], options: options),
            TaskRecord(name: "join", needs: ["plain", "quoted"], argv: [], kind: .noop),
        ]
        new.secretParameters = ["token"]
        let created = try store.createJob(new)
        let db = try Connection(path: dir.file("jobs.sqlite"))
        let tasks = try db.query("SELECT needs, argv, kind, options FROM tasks WHERE job_id = ? ORDER BY position", [.integer(created.id)])
        #expect(tasks.map { $0["argv"].text } == (try new.tasks.map { try StringArrayColumn.encode($0.argv) }))
        #expect(tasks.map { $0["needs"].text } == (try new.tasks.map { try StringArrayColumn.encode($0.needs) }))
        #expect(tasks.map { $0["kind"].text } == ["command", "command", "noop"])
        #expect(tasks.map { $0["options"] } == [.null, .text(try #require(try TaskOptionsColumn.encode(options))), .null])
        #expect(tasks.first?["argv"].text == #"["a","b","c"]"#)
        #expect(tasks.last?["argv"].text == "[]")
        // Whatever path wrote them, the stored arrays are valid JSON with the same strings.
        for (row, task) in zip(tasks, new.tasks) {
            let argv = try JSONDecoder().decode([String].self, from: Data((row["argv"].text ?? "").utf8))
            #expect(argv == task.argv)
        }
        let job = try #require(
            try db.query("SELECT params, secret_params, created_at FROM jobs WHERE id = ?", [.integer(created.id)]).first)
        #expect(job["params"].text == #"{"a":"\"1\"","b":"2"}"#)
        #expect(job["secret_params"].text == #"["token"]"#)
        #expect(job["created_at"].int64 == StoredTime.milliseconds(created.createdAt))
    }

    @Test("Columns written as plain JSON arrays by earlier versions (escaped slashes) still decode")
    func legacyArrayColumns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        let job = try store.createJob(Fixtures.job())
        let db = try Connection(path: dir.file("jobs.sqlite"))
        try db.run(
            "UPDATE tasks SET argv = ?, needs = ? WHERE job_id = ? AND name = 'load'",
            [.text(#"["\/bin\/sh","-c","echo \"hi\""]"#), .text(#"["left","right"]"#), .integer(job.id)])
        let load = try #require(try store.job(id: job.id)?.tasks.first { $0.name == "load" })
        #expect(load.argv == ["/bin/sh", "-c", "echo \"hi\""])
        #expect(load.needs == ["left", "right"])
    }

    @Test("The audit table's triggers refuse UPDATE and DELETE from any connection")
    func auditTriggers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        try store.appendAudit(
            AuditRecord(
                at: Date(), event: "trigger", allowed: true, user: "bob", identitySource: nil, pipeline: "etl", jobID: nil, reason: "r",
                requestID: nil, clientAddress: nil, configHash: "h"))
        let connection = try Connection(path: dir.file("jobs.sqlite"))
        #expect(throws: SQLiteError.self) { try connection.run("UPDATE audit SET user = 'mallory'") }
        #expect(throws: SQLiteError.self) { try connection.run("DELETE FROM audit") }
        #expect(try connection.query("SELECT decision FROM audit").first?["decision"] == .text("allow"))
    }

    @Test(
        "SQLite's busy, locked, full and I/O results become StorageUnavailable; other errors stay what they are",
        arguments: [
            (5, "database is locked", StorageUnavailable.Kind.busy),
            (6, "database table is locked", .busy),
            (5 | (3 << 8), "database is locked", .busy),
            (13, "database or disk is full", .full),
            (10 | (3 << 8), "disk I/O error: No space left on device", .full),
            (10, "disk I/O error (disk full)", .full),
            (10, "disk I/O error", .io),
            (14, "unable to open database file", .io),
        ] as [(Int32, String, StorageUnavailable.Kind)])
    func classification(code: Int32, message: String, kind: StorageUnavailable.Kind) {
        let error = StorageUnavailable(classifying: SQLiteError(code: code, message: message))
        #expect(error?.kind == kind)
        #expect(error?.detail == message)
    }

    @Test("Constraint, corruption and misuse errors are not storage trouble", arguments: [19, 2067, 11, 21, 1] as [Int32])
    func notClassified(code: Int32) {
        #expect(StorageUnavailable(classifying: SQLiteError(code: code, message: "x")) == nil)
    }
}
