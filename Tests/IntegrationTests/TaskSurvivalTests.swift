import Foundation
import JobStore
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Tasks outlive Sluice, through the real deployment shape: lighttpd → `sluice serve`, each task
/// attempt under its own `sluice-supervisor`. Sluice is killed (`kill -9`), stopped (SIGTERM),
/// upgraded (a new binary installed over the running one), or restarted together with lighttpd
/// (the development setup, where lighttpd starts sluice through `bin-path`); each time the
/// running tasks go on, and the next sluice re-adopts them or records how they ended while it
/// was down. No task is interrupted, none runs twice, exit codes and finish times are the
/// tasks' own, and a task's log is one file written across the restart.
///
/// The tasks come from `CrashRecoveryTests.task(...)`: each records its process group in
/// `pgids-<name>` (one line per run), and a task that must outlive a restart waits for a file
/// the test creates (`CrashRecoveryTests.waitForGo`). The store is read directly; the recovery
/// invariants are checked by `CrashRecoveryTests.settle`.
@Suite("Task survival: tasks outlive sluice's crash, stop, upgrade and lighttpd's restart", .serialized, .timeLimit(.minutes(2)))
struct TaskSurvivalTests {
    typealias Crash = CrashRecoveryTests

    @Test("kill -9 while several tasks run: none is interrupted, their real exit codes are recorded, the dependent runs, logs go on")
    func killWhileSeveralRun() async throws {
        let (harness, store) = try await Self.start { directory in
            Crash.pipeline(
                "several",
                [
                    Crash.task("ok", directory: directory, first: Crash.waitForGo("ok", directory: directory)),
                    Crash.task("bad", directory: directory, first: Crash.waitForGo("bad", directory: directory) + "; exit 3"),
                    Crash.task("dep", directory: directory, needs: ["ok"], first: "echo dep"),
                ])
        }
        defer { harness.shutdown() }
        let id = try Self.trigger("several", harness)
        try await Self.waitUntilRunning(["ok", "bad"], job: id, harness, store)
        let groups = ["ok": try Self.onlyGroup(of: "ok", harness), "bad": try Self.onlyGroup(of: "bad", harness)]
        let attempts = try Crash.attempts(in: store)

        // No restart gate: lighttpd respawns the backend by itself, as in production.
        let killed = try await harness.killSluice()
        for (name, group) in groups {
            #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "\(name) died with sluice")
        }
        _ = try await harness.waitForRestart(replacing: killed)
        try await Crash.waitForReadoption(of: "ok", job: id, harness: harness, store: store)
        try await Crash.waitForReadoption(of: "bad", job: id, harness: harness, store: store)
        Crash.go("ok", in: harness)
        Crash.go("bad", in: harness)

        let job = try #require(try await Crash.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)[id])
        let ok = try #require(job.task("ok"))
        let bad = try #require(job.task("bad"))
        #expect(job.state == .failed, "bad exits 3, so the job fails: \(Crash.summary(job))")
        #expect(ok.state == .succeeded && ok.exitCode == 0 && ok.message == nil, "\(Crash.summary(job))")
        #expect(bad.state == .failed && bad.exitCode == 3, "\(Crash.summary(job))")
        #expect(bad.message == "exited with status 3", "never interrupted: \(Crash.summary(job))")
        #expect(ok.attempt == 1 && bad.attempt == 1, "never interrupted, never retried: \(Crash.summary(job))")
        #expect(job.task("dep")?.state == .succeeded, "the dependent of ok did not run: \(Crash.summary(job))")
        for (name, group) in groups {
            #expect(Crash.processGroups(of: name, in: harness) == [group], "\(name) should have run exactly once")
            #expect(try Self.log(name, job: id, harness) == "before\nafter\n", "\(name)'s log is not one log across the restart")
        }
        #expect(try Self.log("dep", job: id, harness) == "dep\n")
    }

    @Test("upgrade: SIGTERM, a new binary installed over the running one, start: the job succeeds and no task runs twice")
    func upgrade() async throws {
        // sluice and sluice-supervisor installed in a directory of their own, as a package would.
        let built = try LighttpdHarness.findSluiceBinary()
        let install = try TemporaryDirectory(prefix: "sluice-install", in: "/tmp")
        defer { install.remove() }
        try Self.install(from: built, into: install.path)
        let oldInode = try Self.inode(install.path + "/sluice")

        var options = LighttpdHarness.Options()
        options.restartGate = true
        options.sluiceBinary = install.path + "/sluice"
        let (harness, store) = try await Self.start(options) { directory in
            // Three layers; each task writes start and end lines to one shared file. b1 waits
            // for the test, so it surely runs across the upgrade; b2 likely ends while no sluice runs.
            func step(_ name: String, _ work: String) -> String {
                "echo start-\(name) >> \(directory)/trace; \(work); echo end-\(name) >> \(directory)/trace"
            }
            return Crash.pipeline(
                "layers",
                [
                    Crash.task("a", directory: directory, first: step("a", "sleep 0.2")),
                    Crash.task("b1", directory: directory, needs: ["a"], first: step("b1", Crash.waitForGo("b1", directory: directory))),
                    Crash.task("b2", directory: directory, needs: ["a"], first: step("b2", "sleep 0.3")),
                    Crash.task("c", directory: directory, needs: ["b1", "b2"], first: step("c", "sleep 0.2")),
                ])
        }
        defer { harness.shutdown() }
        let old = try Crash.onlySluice(harness)
        #expect(try Self.inode("/proc/\(old)/exe") == oldInode, "the harness does not run the installed copy")

        let id = try Self.trigger("layers", harness)
        try await Self.waitUntilRunning(["b1"], job: id, harness, store)
        let b1 = try Self.onlyGroup(of: "b1", harness)
        let attempts = try Crash.attempts(in: store)

        // Stop (SIGTERM: sluice leaves its tasks to their supervisors), install, start.
        harness.holdRestarts()
        _ = try await harness.killSluice(signal: SIGTERM, timeout: .seconds(10))
        try await harness.waitUntilHeld()
        #expect(!ProcessTable.livingMembers(ofProcessGroup: b1).isEmpty, "b1 was stopped with sluice")
        try Self.install(from: built, into: install.path)
        let newInode = try Self.inode(install.path + "/sluice")
        #expect(newInode != oldInode, "the install did not replace the binary")
        harness.releaseRestarts()
        let new = try await harness.waitForRestart(replacing: [old])
        #expect(try Self.inode("/proc/\(new)/exe") == newInode, "the restarted sluice does not run the new binary")
        try await Crash.waitForReadoption(of: "b1", job: id, harness: harness, store: store)
        Crash.go("b1", in: harness)

        let job = try #require(try await Crash.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)[id])
        #expect(job.state == .succeeded, "\(Crash.summary(job))\n\(harness.logs())")
        #expect(job.tasks.allSatisfy { $0.attempt == 1 }, "a task was retried: \(Crash.summary(job))")
        let trace = ((try? String(contentsOfFile: harness.directory + "/trace", encoding: .utf8)) ?? "").split(separator: "\n")
        for name in ["a", "b1", "b2", "c"] {
            #expect(trace.filter { $0 == "start-\(name)" }.count == 1, "\(name) did not start exactly once: \(trace)")
            #expect(trace.filter { $0 == "end-\(name)" }.count == 1, "\(name) did not end exactly once: \(trace)")
        }
        func position(_ line: String) -> Int { trace.firstIndex { $0 == line } ?? -1 }
        #expect(position("end-a") < position("start-b1") && position("end-a") < position("start-b2"), "\(trace)")
        #expect(position("end-b1") < position("start-c") && position("end-b2") < position("start-c"), "\(trace)")
    }

    @Test("dev setup: lighttpd restarted (stop, start) during a job: the running task is re-adopted and the job succeeds")
    func lighttpdRestart() async throws {
        let (harness, store) = try await Self.start { directory in
            Crash.pipeline(
                "dev",
                [
                    Crash.task("work", directory: directory, first: Crash.waitForGo("work", directory: directory)),
                    Crash.task("next", directory: directory, needs: ["work"], first: "echo next"),
                ])
        }
        defer { harness.shutdown() }
        let id = try Self.trigger("dev", harness)
        try await Self.waitUntilRunning(["work"], job: id, harness, store)
        let group = try Self.onlyGroup(of: "work", harness)
        let old = try Crash.onlySluice(harness)
        let attempts = try Crash.attempts(in: store)

        // lighttpd's stop sends its kill-signal (SIGTERM) to sluice and exits; the new lighttpd's
        // sluice waits for the old one to release the data directory, then recovers.
        try await harness.restartLighttpd()
        try await harness.waitUntilGone(old, timeout: .seconds(10))
        #expect(try Crash.onlySluice(harness) != old, "lighttpd's restart did not restart sluice")
        try await Crash.waitForReadoption(of: "work", job: id, harness: harness, store: store)
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "work was stopped with lighttpd")
        Crash.go("work", in: harness)

        let job = try #require(try await Crash.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)[id])
        #expect(job.state == .succeeded, "\(Crash.summary(job))\n\(harness.logs())")
        #expect(job.task("work")?.attempt == 1 && job.task("work")?.exitCode == 0, "\(Crash.summary(job))")
        #expect(Crash.processGroups(of: "work", in: harness) == [group], "work should have run exactly once")
        #expect(try Self.log("work", job: id, harness) == "before\nafter\n", "work's log is not one log across the restart")
        #expect(job.task("next")?.state == .succeeded, "\(Crash.summary(job))")
    }

    @Test("finished while down: tasks that end while sluice is stopped are recorded with their own exit codes and finish times")
    func finishedWhileDown() async throws {
        var options = LighttpdHarness.Options()
        options.restartGate = true
        let (harness, store) = try await Self.start(options) { directory in
            Crash.pipeline(
                "down",
                [
                    Crash.task("zero", directory: directory, first: Crash.waitForGo("zero", directory: directory)),
                    Crash.task("five", directory: directory, first: Crash.waitForGo("five", directory: directory) + "; exit 5"),
                    Crash.task("after", directory: directory, needs: ["zero"], first: "echo after"),
                ])
        }
        defer { harness.shutdown() }
        let id = try Self.trigger("down", harness)
        try await Self.waitUntilRunning(["zero", "five"], job: id, harness, store)
        let attempts = try Crash.attempts(in: store)

        harness.holdRestarts()
        let stopped = try await harness.killSluice(signal: SIGTERM, timeout: .seconds(10))
        try await harness.waitUntilHeld()
        Crash.go("zero", in: harness)
        Crash.go("five", in: harness)
        var finished: [String: (code: Int, at: Date)] = [:]
        for name in ["zero", "five"] {
            finished[name] = await Poll.value(within: .seconds(10)) {
                Crash.recordedOutcome(harness, job: id, task: name, attempt: 1).flatMap { status in
                    status.exitStatus.map { (code: Int($0), at: status.finishedAt) }
                }
            }
            try #require(finished[name] != nil, "no outcome of \(name) in the status journal while sluice was down\n\(harness.logs())")
        }
        // Long enough that a finish time taken at recovery could not pass for the task's own.
        try await Task.sleep(for: .milliseconds(300))
        let restarted = Date()
        #expect(try store.job(id: id)?.tasks.filter { $0.state == .running }.count == 2, "the store should not know yet")
        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: stopped)

        let job = try #require(try await Crash.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)[id])
        let zero = try #require(job.task("zero"))
        let five = try #require(job.task("five"))
        #expect(zero.state == .succeeded && zero.exitCode == 0 && zero.message == nil, "\(Crash.summary(job))")
        #expect(five.state == .failed && five.exitCode == 5 && five.message == "exited with status 5", "\(Crash.summary(job))")
        #expect(zero.attempt == 1 && five.attempt == 1, "\(Crash.summary(job))")
        for (name, task) in [("zero", zero), ("five", five)] {
            let own = try #require(finished[name])
            #expect(task.exitCode.map(Int.init) == own.code, "\(name): the status file says \(own.code)")
            let recorded = try #require(task.finishedAt, "\(name) has no finish time")
            #expect(abs(recorded.timeIntervalSince(own.at)) < 0.002, "\(name) finished at \(own.at), recorded \(recorded)")
            #expect(recorded < restarted, "\(name)'s finish time \(recorded) is not before the restart at \(restarted)")
            #expect(try Self.log(name, job: id, harness) == "before\nafter\n")
        }
        let after = try #require(job.task("after"))
        #expect(after.state == .succeeded, "\(Crash.summary(job))")
        #expect((after.startedAt ?? .distantPast) >= restarted, "after started before the restart: \(Crash.summary(job))")
        #expect(job.state == .failed, "\(Crash.summary(job))")
    }

    @Test("data_dir spelled differently after a restart (a trailing slash): the running task is still re-adopted, not run again")
    func dataDirectorySpelling() async throws {
        var options = LighttpdHarness.Options()
        options.restartGate = true
        let (harness, store) = try await Self.start(options) { directory in
            Crash.pipeline(
                "spelling",
                [Crash.task("work", directory: directory, retries: 1, first: Crash.waitForGo("work", directory: directory))])
        }
        defer { harness.shutdown() }
        let id = try Self.trigger("spelling", harness)
        try await Self.waitUntilRunning(["work"], job: id, harness, store)
        let group = try Self.onlyGroup(of: "work", harness)
        let attempts = try Crash.attempts(in: store)

        harness.holdRestarts()
        let stopped = try await harness.killSluice(signal: SIGTERM, timeout: .seconds(10))
        try await harness.waitUntilHeld()
        let config = try String(contentsOfFile: harness.sluiceConfigPath, encoding: .utf8)
        let respelled = config.replacingOccurrences(
            of: "data_dir: \"\(harness.directory)/data\"", with: "data_dir: \"\(harness.directory)/data/\"")
        try #require(respelled != config, "the config has no data_dir to respell")
        try respelled.write(toFile: harness.sluiceConfigPath, atomically: true, encoding: .utf8)
        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: stopped)
        try await Crash.waitForReadoption(of: "work", job: id, harness: harness, store: store)
        Crash.go("work", in: harness)

        let job = try #require(try await Crash.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)[id])
        #expect(job.state == .succeeded, "\(Crash.summary(job))\n\(harness.logs())")
        #expect(job.task("work")?.attempt == 1, "work was run again beside itself: \(Crash.summary(job))")
        #expect(Crash.processGroups(of: "work", in: harness) == [group], "work should have run exactly once")
    }
}

// MARK: - Helpers

extension TaskSurvivalTests {
    /// Starts lighttpd and sluice (with `options`) and opens the job store beside it.
    static func start(
        _ options: LighttpdHarness.Options = LighttpdHarness.Options(), pipelines: (_ directory: String) -> String
    ) async throws -> (LighttpdHarness, SQLiteJobStore) {
        var options = options
        // The tests wait for sluice's "re-adopted running task" lines; scripts/test sets warning.
        options.sluiceEnvironment["SLUICE_LOG_LEVEL"] = "info"
        let harness = try await LighttpdHarness.start(options) { directory in
            Crash.sluiceConfig(directory: directory, pipelines: pipelines(directory))
        }
        do {
            return (harness, try SQLiteJobStore(path: harness.directory + "/data/sluice.db"))
        } catch {
            harness.shutdown()
            throw error
        }
    }

    /// Triggers a job of `pipeline` as alice; returns its id.
    static func trigger(_ pipeline: String, _ harness: LighttpdHarness) throws -> Int64 {
        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/\(pipeline)/jobs", #"{"params":{}}"#, as: "alice")
        try #require(accepted.status == 202, "\(accepted)\n\(harness.logs())")
        return Int64(try JobDocument.decode(accepted.body).id)
    }

    /// Waits until each of `tasks` runs with its supervisor's pid recorded and has logged "before".
    static func waitUntilRunning(_ tasks: [String], job id: Int64, _ harness: LighttpdHarness, _ store: SQLiteJobStore) async throws {
        try await Crash.poll("\(tasks) running and logging", harness: harness, store: store) {
            let job = try store.job(id: id)
            return try tasks.allSatisfy { name in
                guard let task = job?.task(name), task.state == .running, task.pid != nil else { return false }
                return try Self.log(name, job: id, harness) == "before\n"
            }
        }
    }

    /// The process group of the one run of task `name` so far.
    static func onlyGroup(of name: String, _ harness: LighttpdHarness) throws -> pid_t {
        let groups = Crash.processGroups(of: name, in: harness)
        guard groups.count == 1 else { throw HarnessError("\(name) ran \(groups.count) times: \(groups)") }
        return groups[0]
    }

    /// Attempt 1's log of `task`, through the API (`GET …/tasks/<task>/log`).
    static func log(_ task: String, job id: Int64, _ harness: LighttpdHarness) throws -> String {
        let response = try harness.client.send("GET", "/sluice/api/v1/jobs/\(id)/tasks/\(task)/log?attempt=1", as: "alice")
        guard response.status == 200 else { throw HarnessError("GET \(task)'s log: \(response)") }
        return response.text
    }

    /// Installs `sluice` and the `sluice-supervisor` beside `binary` into `directory` as a
    /// package manager would: each copied to a temporary name, then renamed over the old one
    /// (a running process keeps its old file).
    static func install(from binary: String, into directory: String) throws {
        let source = (binary as NSString).deletingLastPathComponent
        for name in ["sluice", "sluice-supervisor"] {
            let staged = directory + "/.\(name).new"
            try? FileManager.default.removeItem(atPath: staged)
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: staged)
            guard chmod(staged, 0o755) == 0, rename(staged, directory + "/" + name) == 0 else {
                throw HarnessError("cannot install \(name) into \(directory): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The inode of the file at `path` (following symlinks, so `/proc/<pid>/exe` names the
    /// executable a process runs, even one renamed over since).
    static func inode(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw HarnessError("stat \(path): \(String(cString: strerror(errno)))") }
        return UInt64(info.st_ino)
    }
}
