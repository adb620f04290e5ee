import Foundation
import JobStore
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Start failures carry the errno of the call that failed, in `errno` and in the description.
@Suite(.serialized, .timeLimit(.minutes(1))) struct SpawnErrorTests {
    static let environment = ["PATH": "/usr/bin:/bin"]
    static let noSuchFile = String(cString: strerror(ENOENT))

    @Test("A program path that does not exist is a SpawnError with ENOENT")
    func missingExecutable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("missing/program")
        let error = try #require(
            #expect(throws: TaskProcess.SpawnError.self) {
                try TaskProcess.spawn(argv: [program], environment: Self.environment, workingDirectory: dir.path, logPath: dir.file("log"))
            })
        #expect(error.errno == ENOENT)
        #expect(error.description.contains(program))
        #expect(error.description.contains(Self.noSuchFile), "\(error)")
        #expect(error.description.contains("errno \(ENOENT)"), "\(error)")
        let piped = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: [program], environment: Self.environment, workingDirectory: dir.path)
        }
        #expect(piped?.errno == ENOENT)
    }

    @Test("A program missing from PATH is a SpawnError with ENOENT")
    func notInPath() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: ["sluice-no-such-program"], environment: Self.environment, workingDirectory: dir.path)
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("sluice-no-such-program") == true)
        #expect(error?.description.contains("errno \(ENOENT)") == true, "\(String(describing: error))")
    }

    @Test("A working directory that does not exist is a SpawnError with posix_spawn's ENOENT")
    func missingWorkingDirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.file("missing")
        let error = try #require(
            #expect(throws: TaskProcess.SpawnError.self) {
                try TaskProcess.spawn(
                    argv: ["/bin/true"], environment: Self.environment, workingDirectory: missing, logPath: dir.file("log"))
            })
        #expect(error.errno == ENOENT)
        #expect(error.description.contains(missing), "\(error)")
        #expect(error.description.contains(Self.noSuchFile), "\(error)")
        #expect(error.description.contains("errno \(ENOENT)"), "\(error)")
        let piped = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: ["/bin/true"], environment: Self.environment, workingDirectory: missing)
        }
        #expect(piped?.errno == ENOENT)
        #expect(piped?.description.contains("errno \(ENOENT)") == true)
    }

    @Test("A task whose log directory cannot be created fails with mkdir's error instead of running without a log")
    func logDirectoryCannotBeCreated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteJobStore(path: dir.file("jobs.sqlite"))
        // The parent of the log directory does not exist, so mkdir fails with ENOENT.
        let runner = Runner(store: store, configuration: .init(logDirectory: dir.file("missing/logs")))
        runner.start()
        defer { runner.stop() }
        let marker = dir.file("ran")
        let job = try store.createJob(
            NewJob(
                pipeline: "test", triggeredBy: "tester", identitySource: "test", params: [:], workingDirectory: dir.path,
                tasks: [TaskRecord(name: "t", needs: [], argv: ["/usr/bin/touch", marker])]))
        runner.wake()
        var finished: JobRecord? = nil
        _ = try Poll.blockingUntil(within: .seconds(10)) {
            finished = try store.job(id: job.id)
            return finished?.state.isTerminal == true
        }
        let done = try #require(finished)
        let task = try #require(done.tasks.first)
        #expect(done.state == .failed)
        #expect(task.state == .failed)
        #expect(task.message?.contains("mkdir") == true, "\(task.message ?? "no message")")
        #expect(task.message?.contains(Self.noSuchFile) == true, "\(task.message ?? "no message")")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}
