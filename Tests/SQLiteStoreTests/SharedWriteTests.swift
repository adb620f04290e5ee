import Foundation
import JobStore
import Locking
import SQLite
import TestSupport
import Testing

@testable import SQLiteStore

/// `SQLiteJobStore.write` commits concurrent writes together, each in a savepoint: every caller
/// must see exactly what a transaction of its own would have given it.
@Suite("Writes that arrive during a commit share the next transaction, each undone alone if it fails")
struct SharedWriteTests {
    @Test(
        "16 threads × 25 writes, every third one failing after its insert: failed ones leave nothing, the others all commit, in shared commits"
    )
    func failuresAreUndoneAlone() throws {
        struct Refused: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        try store.write { db in try db.execute("CREATE TABLE probe (value INTEGER PRIMARY KEY)") }
        let before = store.writeCommits
        let wrong = Locked<[String]>([])
        GroupCommitTests.onThreads(16) { thread in
            for k in 0..<25 {
                let value = thread * 100 + k
                do {
                    let got = try store.write { db -> Int in
                        try db.run("INSERT INTO probe (value) VALUES (?)", [.integer(Int64(value))])
                        usleep(200)  // time for other writes to queue behind this batch
                        if value % 3 == 0 { throw Refused() }
                        // Each body sees the writes before it, including its own.
                        return Int(try db.query("SELECT count(*) FROM probe WHERE value = ?", [.integer(Int64(value))])[0][0].int64 ?? -1)
                    }
                    if value % 3 == 0 || got != 1 { wrong.withLock { $0.append("\(value): returned \(got)") } }
                } catch is Refused {
                    if value % 3 != 0 { wrong.withLock { $0.append("\(value): refused") } }
                } catch {
                    wrong.withLock { $0.append("\(value): \(error)") }
                }
            }
        }
        #expect(wrong.withLock { $0 }.isEmpty)
        let stored = try store.read { db in try db.query("SELECT value FROM probe ORDER BY value").compactMap { $0[0].int64 } }
        var expected: [Int64] = []
        for thread in 0..<16 {
            for k in 0..<25 where (thread * 100 + k) % 3 != 0 { expected.append(Int64(thread * 100 + k)) }
        }
        #expect(stored == expected, "exactly the writes that did not fail are stored")
        let after = store.writeCommits
        #expect(after.writes - before.writes == 400)
        #expect(after.commits - before.commits < 400, "no two writes ever shared a commit")
        print("SharedWriteTests: 400 writes in \(after.commits - before.commits) commits")
    }

    @Test("A write that fails alone rolls back and reports its error; the store goes on")
    func aloneFailure() throws {
        struct Refused: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        try store.write { db in try db.execute("CREATE TABLE probe (value INTEGER)") }
        #expect(throws: Refused.self) {
            try store.write { db in
                try db.run("INSERT INTO probe VALUES (1)")
                throw Refused()
            }
        }
        #expect(throws: SQLiteError.self) { try store.write { db in try db.run("INSERT INTO nowhere VALUES (1)") } }
        try store.write { db in try db.run("INSERT INTO probe VALUES (2)") }
        #expect(try store.read { db in try db.query("SELECT value FROM probe").compactMap { $0[0].int64 } } == [2])
    }

    @Test("200 triggers handed to the committer from one thread: all created once, in fewer commits than triggers")
    func parkedSubmissions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        #expect(store.hasCommitter)
        let before = store.submissionCommits
        let ids = Locked<[Int64]>([])
        let failures = Locked<[String]>([])
        let done = DispatchGroup()
        for n in 0..<200 {
            done.enter()
            store.submit(Fixtures.job(pipeline: "p", params: ["n": "\(n)"]), rules: SubmissionRules(), audit: nil) { result in
                switch result {
                case .success(.created(let job)): ids.withLock { $0.append(job.id) }
                default: failures.withLock { $0.append("\(n): \(result)") }
                }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(Set(ids.withLock { $0 }).count == 200)
        #expect(try store.jobs(JobQuery(pipelines: ["p"], limit: 500)).count == 200)
        let after = store.submissionCommits
        #expect(after.submissions - before.submissions == 200)
        #expect(after.commits - before.commits < 200, "the committer never took more than one trigger at a time")
        print("SharedWriteTests: 200 parked triggers in \(after.commits - before.commits) commits")
    }
}
