import Foundation
import JobStore
import Logging
import SQLiteStore
import TestSupport
import Testing

@testable import Sluice

@Suite struct LogRetentionTests {
    @Test("The sweep removes the logs of jobs finished before the cutoff and keeps everything else")
    func sweep() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = MutableClock(Date(timeIntervalSince1970: 1_700_000_000))
        let store = try SQLiteJobStore(path: directory.file("s.db"), now: { clock.now })
        func job() throws -> JobRecord {
            try store.createJob(
                NewJob(
                    pipeline: "p", triggeredBy: "u", identitySource: "remote_user", params: [:], workingDirectory: "/",
                    tasks: [TaskRecord(name: "t", needs: [], argv: ["/bin/true"])]))
        }
        let old = try job()
        try store.record(jobID: old.id, changes: [TaskChange(task: "t", state: .succeeded, exitCode: 0)], jobState: .succeeded)
        clock.now += 10 * 86400
        let recent = try job()
        try store.record(jobID: recent.id, changes: [TaskChange(task: "t", state: .succeeded, exitCode: 0)], jobState: .succeeded)
        let unfinished = try job()
        let logs = directory.file("logs")
        for id in [old.id, recent.id, unfinished.id, 999] {
            try FileManager.default.createDirectory(atPath: "\(logs)/\(id)", withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: "\(logs)/\(id)/t.1.log"))
        }
        try FileManager.default.createDirectory(atPath: "\(logs)/not-a-job", withIntermediateDirectories: true)

        let removed = LogRetention.sweep(
            store: store, logDirectory: logs, cutoff: clock.now.addingTimeInterval(-5 * 86400), logger: Logger(label: "test"))

        #expect(removed == 1)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: logs))
        #expect(left == ["\(recent.id)", "\(unfinished.id)", "999", "not-a-job"])
        #expect(try store.job(id: old.id)?.state == .succeeded, "the job record stays; only its logs go")
    }

    @Test("A missing log directory is not an error")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: directory.file("s.db"))
        #expect(LogRetention.sweep(store: store, logDirectory: directory.file("nope"), cutoff: Date(), logger: Logger(label: "t")) == 0)
    }
}

/// A clock tests move by hand.
final class MutableClock: @unchecked Sendable {
    // Confinement: only the test's own task touches `now`.
    var now: Date
    init(_ now: Date) { self.now = now }
}
