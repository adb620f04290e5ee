import Foundation
import JobStore
import Locking
import SQLiteStore
import TestSupport
import Testing

/// `SQLiteJobStore.submit` commits concurrent triggers together; every submission rule must come
/// out exactly as if each had its own transaction.
@Suite("Group-committed triggers keep every submission rule")
struct GroupCommittedSubmitTests {
    /// Submits `jobs[i]` from thread i, all at once, and returns the outcomes in `jobs` order.
    static func submitConcurrently(_ store: SQLiteJobStore, _ jobs: [NewJob], rules: SubmissionRules) -> [Result<Submission, any Error>] {
        let outcomes = Locked<[Int: Result<Submission, any Error>]>([:])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for (i, job) in jobs.enumerated() {
            group.enter()
            Thread {
                defer { group.leave() }
                start.wait()
                let outcome = Result { try store.submit(job, rules: rules) }
                outcomes.withLock { $0[i] = outcome }
            }.start()
        }
        for _ in jobs { start.signal() }
        group.wait()
        return outcomes.withLock { all in jobs.indices.map { all[$0]! } }
    }

    @Test(
        "48 concurrent triggers against a queue limit of 10: exactly 10 created, 38 refused as queue full, in fewer commits than triggers")
    func queueLimit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        var grouped = false
        // Grouping needs triggers to meet during a commit; on a loaded machine a round may happen
        // to run them one by one, so up to 5 rounds on fresh pipelines look for a shared commit.
        for round in 0..<5 {
            let before = store.submissionCommits
            let jobs = (0..<48).map { Fixtures.job(pipeline: "p\(round)", params: ["date": "2024-05-\(10 + $0 % 20)", "n": "\($0)"]) }
            let outcomes = Self.submitConcurrently(store, jobs, rules: SubmissionRules(maxUnfinished: 10))
            var created = 0
            var full = 0
            for outcome in outcomes {
                switch outcome {
                case .success(.created): created += 1
                case .success(.refused(.queueFull(limit: 10))): full += 1
                default: Issue.record("unexpected \(outcome)")
                }
            }
            #expect(created == 10 && full == 38, "round \(round): \(created) created, \(full) refused")
            #expect(try store.jobs(JobQuery(pipelines: ["p\(round)"])).count == 10)
            let after = store.submissionCommits
            #expect(after.submissions - before.submissions == 48)
            if after.commits - before.commits < 48 {
                grouped = true
                print("GroupCommittedSubmitTests: 48 triggers in \(after.commits - before.commits) commits (round \(round))")
                break
            }
        }
        #expect(grouped, "48 concurrent triggers never shared a commit in 5 rounds")
    }

    @Test("24 concurrent triggers with one Idempotency-Key: one job, 23 answers with it; return_existing: one job for one identity")
    func idempotencyAndDuplicates() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        let keyed = (0..<24).map { _ in
            NewJob(
                pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: ["date": "2024-05-01"],
                workingDirectory: "/srv", tasks: [TaskRecord(name: "a", needs: [], argv: ["/bin/true"])], idempotencyKey: "k-1",
                requestDigest: "d-1")
        }
        var ids = Set<Int64>()
        var created = 0
        for outcome in Self.submitConcurrently(store, keyed, rules: SubmissionRules()) {
            switch outcome {
            case .success(.created(let job)):
                created += 1
                ids.insert(job.id)
            case .success(.existing(let job, .idempotencyKey)): ids.insert(job.id)
            default: Issue.record("unexpected \(outcome)")
            }
        }
        #expect(created == 1 && ids.count == 1, "\(created) created, ids \(ids)")

        let same = (0..<24).map { _ in
            NewJob(
                pipeline: "dup", triggeredBy: "bob", identitySource: "remote_user", params: [:], workingDirectory: "/srv",
                tasks: [TaskRecord(name: "a", needs: [], argv: ["/bin/true"])], identity: "dup:2024")
        }
        var duplicates = Set<Int64>()
        var made = 0
        for outcome in Self.submitConcurrently(store, same, rules: SubmissionRules(onDuplicate: .returnExisting)) {
            switch outcome {
            case .success(.created(let job)):
                made += 1
                duplicates.insert(job.id)
            case .success(.existing(let job, .duplicate)): duplicates.insert(job.id)
            default: Issue.record("unexpected \(outcome)")
            }
        }
        #expect(made == 1 && duplicates.count == 1, "\(made) created, ids \(duplicates)")
    }

    @Test("A submission that fails inside a shared commit fails alone: the others are stored")
    func oneFailureAlone() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        // Two tasks with one name break the tasks table's primary key: that insert fails.
        let broken = NewJob(
            pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/srv",
            tasks: [TaskRecord(name: "a", needs: [], argv: ["/bin/true"]), TaskRecord(name: "a", needs: [], argv: ["/bin/true"])])
        var jobs = (0..<15).map { Fixtures.job(params: ["date": "2024-05-\(10 + $0)"]) }
        jobs.insert(broken, at: 7)
        let outcomes = Self.submitConcurrently(store, jobs, rules: SubmissionRules())
        for (i, outcome) in outcomes.enumerated() {
            if i == 7 {
                if case .success = outcome { Issue.record("the broken job was accepted") }
            } else {
                guard case .success(.created) = outcome else {
                    Issue.record("job \(i): \(outcome)")
                    continue
                }
            }
        }
        let stored = try store.jobs(JobQuery())
        #expect(stored.count == 15)
        // The broken job left nothing behind, not even its first task.
        #expect(stored.allSatisfy { $0.pipeline == "etl" && $0.params["date"] != nil })
    }

    @Test(
        "Created jobs are reported once committed and before their submitter is answered; existing, refused and failed ones are not")
    func createdJobsObserved() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("s.db")
        let store = try SQLiteJobStore(path: path)
        let seen = Locked<[(record: JobRecord, storedThen: Bool)]>([])
        // Another store on the same file reads through its own connection: what it finds from
        // inside the observer is what any reader (the runner's job list) could find then.
        let other = try SQLiteJobStore(path: path)
        #expect(
            store.observeCreatedJobs { job in
                let stored = (try? other.job(id: job.id)) != nil
                seen.withLock { $0.append((job, stored)) }
            })
        let keyed = NewJob(
            pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: ["date": "2024-05-01"],
            workingDirectory: "/srv", tasks: [TaskRecord(name: "a", needs: [], argv: ["/bin/true"])], idempotencyKey: "k-1",
            requestDigest: "d-1")
        guard case .created(let first) = try store.submit(keyed, rules: SubmissionRules()) else {
            Issue.record("the first keyed submission created no job")
            return
        }
        // Seen before `submit` returned, as the same record.
        #expect(seen.withLock { $0.map(\.record) } == [first])
        #expect(seen.withLock { $0.allSatisfy(\.storedThen) }, "reported before its commit")
        guard case .existing = try store.submit(keyed, rules: SubmissionRules()) else {
            Issue.record("the repeated key did not answer with the job")
            return
        }
        let rejected = Fixtures.job(pipeline: "r", params: ["date": "2024-05-02"])
        _ = try store.submit(rejected, rules: SubmissionRules(onDuplicate: .reject))
        guard case .refused(.duplicate) = try store.submit(rejected, rules: SubmissionRules(onDuplicate: .reject)) else {
            Issue.record("the duplicate was not refused")
            return
        }
        let broken = NewJob(
            pipeline: "etl", triggeredBy: "alice", identitySource: "remote_user", params: [:], workingDirectory: "/srv",
            tasks: [TaskRecord(name: "a", needs: [], argv: ["/bin/true"]), TaskRecord(name: "a", needs: [], argv: ["/bin/true"])])
        #expect(throws: (any Error).self) { try store.submit(broken, rules: SubmissionRules()) }
        let reported = seen.withLock { $0.map(\.record.id) }
        #expect(reported.count == 2, "the keyed job and the first of pipeline r, nothing else: \(reported)")
        #expect(Set(reported) == Set(try store.jobs(JobQuery()).map(\.id)))
    }

    @Test("The observer of created jobs is called at the same stack depth on the 200th commit as on the first")
    func observerDoesNotDeepen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("s.db"))
        let depths = Locked<[Int]>([])
        // A closure kept in a generic lock and read through its `inout` was once wrapped in one
        // more reabstraction thunk per commit: each call went deeper than the one before.
        #expect(store.observeCreatedJobs { _ in depths.withLock { $0.append(Thread.callStackReturnAddresses.count) } })
        for i in 0..<200 { _ = try store.submit(Fixtures.job(params: ["n": "\(i)"]), rules: SubmissionRules(), audit: nil) }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 200)
        #expect(Set(seen).count == 1, "depths from \(seen.min() ?? 0) to \(seen.max() ?? 0)")
    }
}
