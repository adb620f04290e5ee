import Foundation
import JobStore
import PostgresStore
import SQLiteStore
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crash recovery through the real deployment shape: lighttpd → `sluice serve`, killed with
/// SIGKILL at chosen points and restarted by lighttpd, with the job store read directly: the
/// SQLite file in the data directory, or with `SLUICE_TEST_HARNESS_STORE=postgres` the
/// PostgreSQL schema `HarnessStore` gave the configuration (through the `JobStore` protocol
/// either way).
///
/// The crash points: the four fault points `SLUICE_FAULT=<point>@<marker>` arms inside Sluice
/// (after the trigger commit, after the claim, after the spawn, during completion), a `kill -9`
/// from the test while a task runs, and several `kill -9`s at random moments. Tasks run under
/// their own supervisors, so a crash of Sluice alone loses no task: an attempt whose supervisor
/// lives is re-adopted (found by its run key even if its pid was never recorded), one that ended
/// while Sluice was down is recorded from its status file, and only an attempt that never
/// started (or whose supervisor died too) is interrupted and retried. After each crash the test
/// lets the restarted Sluice recover and checks the invariants of `violations(...)`: every
/// acknowledged job exists, every job ends terminal with no task left running, attempts only
/// grow, no task started before everything it needs had succeeded, job states agree with their
/// tasks, no task process (supervisors included) is left once every job ended, and
/// (on SQLite) `PRAGMA integrity_check` says ok.
///
/// Most tests use the harness's restart gate: lighttpd respawns sluice at once, so the gate holds
/// the new process back while the test looks at what the crash left (tasks still `running`, the
/// task still alive or its outcome written), which makes "recovery did it" observable instead of
/// a race. Tasks that must outlive the crash wait for a file the test creates after recovery.
///
/// Every test has its own lighttpd, sluice and temporary directory; the suite is serialized.
@Suite("Crash recovery: kill -9 Sluice, restart, recover", .serialized, .timeLimit(.minutes(2)))
struct CrashRecoveryTests {
    // MARK: - Configuration

    /// A Sluice config with one admin (alice) and the given `pipelines: { … }` members.
    static func sluiceConfig(directory: String, pipelines: String) -> String {
        """
        // Written by CrashRecoveryTests.
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, parallelism: 4, grace_period_seconds: 1 },
          roles: {
            admin: { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "logs"] }] },
          },
          pipelines: {
        \(pipelines)
          },
        }

        """
    }

    /// One task's JSON5 members: a `run` shell script, `needs`, and a retry policy (`retries` and
    /// its backoff keys only when `retries > 0`).
    ///
    /// The script first appends its pid, which is its process-group id, to
    /// `<directory>/pgids-<name>` (one line per attempt), then runs `first` on the task's first
    /// attempt and `later` on every other one; an atomic `mkdir` tells them apart. So a first
    /// attempt can hang (`sleep 300`) while a retry finishes at once, and an orphaned first
    /// attempt cannot finish by itself during the test and hide a recovery that did not kill it.
    static func task(
        _ name: String, directory: String, needs: [String] = [], retries: Int = 0, first: String = "sleep 0.2",
        later: String = "sleep 0.2"
    ) -> String {
        let script =
            "echo $$ >> \(directory)/pgids-\(name); "
            + "if mkdir \(directory)/ran-\(name) 2>/dev/null; then \(first); else \(later); fi"
        var members = [#"run: ["/bin/sh", "-c", "\#(script)"]"#]
        if !needs.isEmpty { members.append("needs: [" + needs.map { "\"\($0)\"" }.joined(separator: ", ") + "]") }
        if retries > 0 { members.append("retries: \(retries), retry_delay_seconds: 0.1, retry_jitter: 0") }
        return "\(name): { \(members.joined(separator: ", ")) }"
    }

    /// A pipeline's JSON5 member with the given task members.
    static func pipeline(_ name: String, _ tasks: [String]) -> String {
        "    \(name): { tasks: {\n" + tasks.map { "      \($0),\n" }.joined() + "    } },"
    }

    /// A shell command that keeps a task's process group busy (two processes) for five minutes.
    static let hang = "sleep 300 & sleep 300; wait"

    /// A shell command that prints `before`, waits until the test calls `go(name, in:)`, and
    /// prints `after`: a task that outlives a crash but ends when the test says so.
    static func waitForGo(_ name: String, directory: String) -> String {
        "echo before; while [ ! -e \(directory)/go-\(name) ]; do sleep 0.05; done; echo after"
    }

    /// Lets `waitForGo(name, …)` finish.
    static func go(_ name: String, in harness: LighttpdHarness) {
        _ = FileManager.default.createFile(atPath: harness.directory + "/go-\(name)", contents: nil)
    }

    // MARK: - Tests

    @Test("after-trigger-commit: the unanswered trigger's job was committed and runs after the restart")
    func crashAfterTriggerCommit() async throws {
        let fault = FaultMarker("after-trigger-commit")
        defer { fault.remove() }
        let (harness, store) = try await Self.start(fault: fault) { directory in
            Self.pipeline(
                "chain",
                [
                    Self.task("a", directory: directory), Self.task("b", directory: directory, needs: ["a"]),
                    Self.task("c", directory: directory, needs: ["b"]),
                ])
        }
        defer { harness.shutdown() }
        let original = try Self.onlySluice(harness)
        harness.holdRestarts()

        // Sluice dies between the commit and the answer: the client sees lighttpd's 5xx or a dropped connection.
        var client = harness.client
        client.timeoutSeconds = 15
        let answer = Result { try client.postJSON("/sluice/api/v1/pipelines/chain/jobs", #"{"params":{}}"#, as: "alice") }
        try await Self.waitForFault(fault, killing: original, harness: harness)
        try await harness.waitUntilHeld()
        switch answer {
        case .success(let response):
            print("CrashRecoveryTests: the trigger cut off by the crash got HTTP \(response.status)")
            #expect(response.status >= 500, "the trigger was answered although sluice died before answering: \(response)")
        case .failure(let error):
            print("CrashRecoveryTests: the trigger cut off by the crash got no answer: \(error)")
        }

        // Before recovery: the job is there, queued, nothing started.
        let committed = try store.jobs(JobQuery(limit: 1000))
        #expect(committed.count == 1, "expected exactly the one committed job, found \(committed.map(\.id))")
        let id = try #require(committed.first?.id, "the job committed before the crash is missing\n\(harness.logs())")
        let before = try #require(try store.job(id: id))
        #expect(before.tasks.allSatisfy { $0.state == .queued && $0.attempt == 0 }, "\(Self.summary(before))")
        let attempts = try Self.attempts(in: store)

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: [original])
        // The marker now exists, so the restarted sluice answers triggers normally.
        let second = try harness.client.postJSON("/sluice/api/v1/pipelines/chain/jobs", #"{"params":{}}"#, as: "alice")
        try #require(second.status == 202, "\(second)\n\(harness.logs())")
        let secondID = Int64(try JobDocument.decode(second.body).id)

        let jobs = try await Self.settle(harness, store, acknowledged: [secondID], attemptsBefore: attempts)
        for job in jobs.values {
            #expect(job.state == .succeeded, "\(Self.summary(job))\n\(harness.logs())")
        }
        #expect(Set(jobs.keys) == [id, secondID], "\(jobs.values.map(Self.summary))")
    }

    @Test("after-claim: a task committed as running but never spawned is retried after the restart")
    func crashAfterClaim() async throws {
        let fault = FaultMarker("after-claim")
        defer { fault.remove() }
        let (harness, store) = try await Self.start(fault: fault) { directory in
            Self.pipeline(
                "diamond",
                [
                    Self.task("start", directory: directory, retries: 1),
                    Self.task("left", directory: directory, needs: ["start"], retries: 1),
                    Self.task("right", directory: directory, needs: ["start"], retries: 1),
                    Self.task("join", directory: directory, needs: ["left", "right"], retries: 1),
                ])
        }
        defer { harness.shutdown() }
        let original = try Self.onlySluice(harness)
        harness.holdRestarts()

        // The claim races the answer (the runner is woken by the trigger), so a 202 is not guaranteed.
        var client = harness.client
        client.timeoutSeconds = 15
        let acknowledged = Self.acknowledgedJobs(
            try? client.postJSON("/sluice/api/v1/pipelines/diamond/jobs", #"{"params":{}}"#, as: "alice"))
        try await Self.waitForFault(fault, killing: original, harness: harness)
        try await harness.waitUntilHeld()

        // Before recovery: `start` is committed as running, but no process ever ran it.
        let jobs = try store.jobs(JobQuery(limit: 1000))
        #expect(jobs.count == 1, "expected exactly one job, found \(jobs.map(\.id))")
        let id = try #require(jobs.first?.id, "no job after the claim\n\(harness.logs())")
        let before = try #require(try store.job(id: id))
        #expect(before.task("start")?.state == .running, "\(Self.summary(before))")
        #expect((before.task("start")?.attempt ?? 0) >= 1, "a claim must count as an attempt: \(Self.summary(before))")
        #expect(before.tasks.filter { $0.name != "start" }.allSatisfy { $0.state == .queued }, "\(Self.summary(before))")
        #expect(Self.processGroups(of: "start", in: harness).isEmpty, "start was spawned although sluice died before spawning")
        let attempts = try Self.attempts(in: store)

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: [original])
        let settled = try await Self.settle(harness, store, acknowledged: acknowledged, attemptsBefore: attempts)

        let job = try #require(settled[id])
        #expect(job.state == .succeeded, "\(Self.summary(job))\n\(harness.logs())")
        #expect(
            (job.task("start")?.attempt ?? 0) > (attempts[TaskKey(job: id, task: "start")] ?? 0),
            "start was not retried: \(Self.summary(job))")
        #expect(Self.processGroups(of: "start", in: harness).count == 1, "start should have run exactly once")
    }

    @Test(
        "after-spawn: the supervisor whose pid was never recorded is found by its run key and re-adopted; the task runs once and succeeds"
    )
    func crashAfterSpawn() async throws {
        let fault = FaultMarker("after-spawn")
        defer { fault.remove() }
        let (harness, store) = try await Self.start(fault: fault) { directory in
            Self.pipeline(
                "orphan",
                [
                    // A retry would succeed at once, so only the counts below tell re-adoption from a retry.
                    Self.task("work", directory: directory, retries: 1, first: Self.waitForGo("work", directory: directory)),
                    Self.task("after", directory: directory, needs: ["work"]),
                ])
        }
        defer { harness.shutdown() }
        let original = try Self.onlySluice(harness)
        harness.holdRestarts()

        var client = harness.client
        client.timeoutSeconds = 15
        let acknowledged = Self.acknowledgedJobs(
            try? client.postJSON("/sluice/api/v1/pipelines/orphan/jobs", #"{"params":{}}"#, as: "alice"))
        try await Self.waitForFault(fault, killing: original, harness: harness)
        try await harness.waitUntilHeld()

        // Before recovery: the store says running with no pid, and the task outlived sluice.
        let id = try #require(try store.jobs(JobQuery(limit: 1000)).first?.id, "no job\n\(harness.logs())")
        let before = try #require(try store.job(id: id))
        #expect(before.task("work")?.state == .running, "\(Self.summary(before))")
        #expect(before.task("work")?.pid == nil, "the fault fires before the supervisor's pid is recorded: \(Self.summary(before))")
        let group = try await Self.waitForProcessGroup(of: "work", in: harness)
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "the task should still run before recovery")
        let attempts = try Self.attempts(in: store)
        let key = TaskKey(job: id, task: "work")

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: [original])
        try await Self.waitForReadoption(of: "work", job: id, harness: harness, store: store)

        // Re-adopted, not interrupted: the same attempt still runs in the same process group.
        let adopted = try #require(try store.job(id: id))
        #expect(adopted.task("work")?.state == .running, "\(Self.summary(adopted))\n\(harness.logs())")
        #expect(adopted.task("work")?.attempt == attempts[key], "\(Self.summary(adopted))")
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "recovery killed the task it should re-adopt")

        Self.go("work", in: harness)
        let settled = try await Self.settle(harness, store, acknowledged: acknowledged, attemptsBefore: attempts)
        let job = try #require(settled[id])
        #expect(job.state == .succeeded, "\(Self.summary(job))\n\(harness.logs())")
        #expect(job.task("work")?.attempt == attempts[key], "the task was retried instead of re-adopted: \(Self.summary(job))")
        #expect(job.task("work")?.exitCode == 0, "\(Self.summary(job))")
        #expect(job.task("work")?.message == nil, "\(Self.summary(job))")
        #expect(Self.processGroups(of: "work", in: harness) == [group], "work should have run exactly once")
        let survivors = try await Self.survivors(ofProcessGroup: group)
        #expect(survivors.isEmpty, "task processes outlived the job: \(survivors)")
    }

    @Test(
        "during-completion: a task whose exit was not committed is recorded from its status file as it ended, and not run again",
        arguments: [0, 1])
    func crashDuringCompletion(retries: Int) async throws {
        let fault = FaultMarker("during-completion")
        defer { fault.remove() }
        let (harness, store) = try await Self.start(fault: fault) { directory in
            Self.pipeline(
                "pair",
                [
                    Self.task("first", directory: directory, retries: retries),
                    Self.task("second", directory: directory, needs: ["first"], retries: retries),
                ])
        }
        defer { harness.shutdown() }
        let original = try Self.onlySluice(harness)
        harness.holdRestarts()

        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/pair/jobs", #"{"params":{}}"#, as: "alice")
        try #require(accepted.status == 202, "\(accepted)\n\(harness.logs())")
        let id = Int64(try JobDocument.decode(accepted.body).id)
        try await Self.waitForFault(fault, killing: original, harness: harness)
        try await harness.waitUntilHeld()

        // Before recovery: `first` exited and its supervisor wrote the outcome, but the store still
        // says running; `second` never started.
        let before = try #require(try store.job(id: id))
        #expect(before.task("first")?.state == .running, "\(Self.summary(before))")
        #expect(before.task("second")?.state == .queued, "\(Self.summary(before))")
        let firstGroups = Self.processGroups(of: "first", in: harness)
        #expect(firstGroups.count == 1, "first should have run once")
        #expect(firstGroups.allSatisfy { ProcessTable.livingMembers(ofProcessGroup: $0).isEmpty }, "first's process should have exited")
        let recorded = Self.recordedOutcome(harness, job: id, task: "first", attempt: before.task("first")?.attempt ?? 1)
        #expect(recorded?.exitCode == 0, "no outcome of first in its job's status journal")
        let attempts = try Self.attempts(in: store)
        let restarted = Date()

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: [original])
        let settled = try await Self.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)

        let job = try #require(settled[id])
        let first = try #require(job.task("first"))
        #expect(job.state == .succeeded, "\(Self.summary(job))\n\(harness.logs())")
        #expect(first.state == .succeeded && first.exitCode == 0 && first.message == nil, "\(Self.summary(job))")
        #expect(first.attempt == attempts[TaskKey(job: id, task: "first")], "first was retried: \(Self.summary(job))")
        #expect(
            (first.finishedAt ?? .distantFuture) < restarted,
            "first ended before the restart, yet is recorded as finished at \(first.finishedAt.map { "\($0)" } ?? "nil")")
        #expect(job.task("second")?.state == .succeeded, "\(Self.summary(job))")
        #expect(Self.processGroups(of: "first", in: harness).count == 1, "first must not run again")
        #expect(Self.processGroups(of: "second", in: harness).count == 1, "second should have run once")
    }

    @Test(
        "mid-task kill -9: the task keeps running, is re-adopted after the restart and ends once, with its real exit code and one log",
        arguments: [0, 1])
    func killMidTask(retries: Int) async throws {
        let (harness, store) = try await Self.start(fault: nil) { directory in
            Self.pipeline(
                "sleeper",
                [
                    Self.task("work", directory: directory, retries: retries, first: Self.waitForGo("work", directory: directory)),
                    Self.task("after", directory: directory, needs: ["work"]),
                ])
        }
        defer { harness.shutdown() }

        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/sleeper/jobs", #"{"params":{}}"#, as: "alice")
        try #require(accepted.status == 202, "\(accepted)\n\(harness.logs())")
        let id = Int64(try JobDocument.decode(accepted.body).id)
        let group = try await Self.waitForProcessGroup(of: "work", in: harness)
        try await Self.poll("task work running with its supervisor's pid recorded", harness: harness, store: store) {
            try store.job(id: id)?.task("work").map { $0.state == .running && $0.pid != nil } ?? false
        }
        try await Self.poll("work's log to say before", harness: harness, store: store) {
            Self.taskLog(harness, job: id, task: "work") == "before\n"
        }
        let attempts = try Self.attempts(in: store)
        let key = TaskKey(job: id, task: "work")

        harness.holdRestarts()
        let killed = try await harness.killSluice()
        try await harness.waitUntilHeld()

        // Sluice is gone: the task runs on under its supervisor, and the store says running.
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "the task died with sluice")
        #expect(try store.job(id: id)?.task("work")?.state == .running)

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: killed)
        try await Self.waitForReadoption(of: "work", job: id, harness: harness, store: store)
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "recovery killed the task it should re-adopt")
        #expect(try store.job(id: id)?.task("work")?.attempt == attempts[key], "recovery counted another attempt")

        Self.go("work", in: harness)
        let settled = try await Self.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)
        let job = try #require(settled[id])
        let task = try #require(job.task("work"))
        #expect(job.state == .succeeded, "\(Self.summary(job))\n\(harness.logs())")
        #expect(task.attempt == attempts[key], "work was retried instead of re-adopted: \(Self.summary(job))")
        #expect(task.exitCode == 0 && task.message == nil, "\(Self.summary(job))")
        #expect(job.task("after")?.state == .succeeded, "the dependent did not run: \(Self.summary(job))")
        #expect(Self.processGroups(of: "work", in: harness) == [group], "work should have run exactly once")
        let log = try harness.client.send("GET", "/sluice/api/v1/jobs/\(id)/tasks/work/log?attempt=\(task.attempt)", as: "alice")
        #expect(log.status == 200 && log.text == "before\nafter\n", "one continuous log across the restart: \(log)")
        let survivors = try await Self.survivors(ofProcessGroup: group)
        #expect(survivors.isEmpty, "task processes outlived the job: \(survivors)")
    }

    @Test(
        "pid reuse: a recorded supervisor pid that now names an unrelated process is neither adopted nor killed; the run key's leftovers are"
    )
    func reusedProcessIDIsSpared() async throws {
        let (harness, store) = try await Self.start(fault: nil) { directory in
            Self.pipeline("sleeper", [Self.task("sleep", directory: directory, first: Self.hang)])
        }
        defer { harness.shutdown() }

        let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/sleeper/jobs", #"{"params":{}}"#, as: "alice")
        try #require(accepted.status == 202, "\(accepted)\n\(harness.logs())")
        let id = Int64(try JobDocument.decode(accepted.body).id)
        let group = try await Self.waitForProcessGroup(of: "sleep", in: harness)
        try await Self.poll("task sleep running with its supervisor's pid recorded", harness: harness, store: store) {
            try store.job(id: id)?.task("sleep").map { $0.state == .running && $0.pid != nil } ?? false
        }
        try await Self.poll("the task's sh and its two sleeps", harness: harness, store: store) {
            ProcessTable.livingMembers(ofProcessGroup: group).count >= 3
        }
        let supervisor = try #require(try store.job(id: id)?.task("sleep")?.pid)

        harness.holdRestarts()
        let killed = try await harness.killSluice()
        try await harness.waitUntilHeld()
        // The supervisor is killed too (no status file; its task's leader dies with it, the two
        // background sleeps stay), and its pid "is reused" by an unrelated process.
        kill(supervisor, SIGKILL)
        try await harness.waitUntilGone(supervisor)
        try await Self.poll("the task's leader to die with its supervisor", harness: harness, store: store) {
            ProcessTable.isGone(group)
        }
        #expect(!ProcessTable.livingMembers(ofProcessGroup: group).isEmpty, "the task's background sleeps should still run")
        let decoy = try ChildProcess(path: "/bin/sleep", arguments: ["60"], stdout: .null, stderr: .null)
        defer { decoy.terminate(signal: SIGKILL) }
        try store.recordProcesses([(jobID: id, task: "sleep", pid: decoy.pid)])
        let attempts = try Self.attempts(in: store)

        harness.releaseRestarts()
        _ = try await harness.waitForRestart(replacing: killed)
        let settled = try await Self.settle(harness, store, acknowledged: [id], attemptsBefore: attempts)

        #expect(decoy.isRunning, "recovery killed process \(decoy.pid) on its pid alone (it carries no run key)")
        let survivors = try await Self.survivors(ofProcessGroup: group)
        #expect(survivors.isEmpty, "processes carrying the lost attempt's run key outlived recovery: \(survivors)")
        let job = try #require(settled[id])
        #expect(job.task("sleep")?.state == .failed, "\(Self.summary(job))")
        #expect(job.task("sleep")?.message?.hasPrefix("interrupted") == true, "\(Self.summary(job))")
        #expect(job.task("sleep")?.attempt == attempts[TaskKey(job: id, task: "sleep")], "\(Self.summary(job))")
    }

    @Test("kill -9 at random moments while jobs run; lighttpd restarts sluice each time; no task that ran is interrupted or run again")
    func randomKills() async throws {
        var random = SplitMix64(seed: ProcessInfo.processInfo.environment["SLUICE_CRASH_SEED"].flatMap(UInt64.init))
        print("CrashRecoveryTests.randomKills: SLUICE_CRASH_SEED=\(random.seed)")
        // No restart gate: this test relies on lighttpd's own respawning, as production does.
        let (harness, store) = try await Self.start(fault: nil, restartGate: false) { directory in
            // Every run appends "job task attempt" to one shared file (short O_APPEND writes are atomic).
            func task(_ name: String, needs: [String] = []) -> String {
                let needsText = needs.isEmpty ? "" : ", needs: [" + needs.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
                let script = "echo $SLUICE_JOB_ID $SLUICE_TASK $SLUICE_ATTEMPT >> \(directory)/runs; sleep 0.2"
                return "\(name): { run: [\"/bin/sh\", \"-c\", \"\(script)\"]\(needsText), retries: 3, retry_delay_seconds: 0.1 }"
            }
            return Self.pipeline(
                "mesh",
                [
                    task("root"), task("x", needs: ["root"]), task("y", needs: ["root"]), task("z", needs: ["root"]),
                    task("merge", needs: ["x", "y", "z"]), task("tail", needs: ["merge"]),
                ])
        }
        defer { harness.shutdown() }

        var acknowledged: [Int64] = []
        var attempts: [TaskKey: Int] = [:]
        // Attempts whose supervisor had started (pid recorded) when sluice was killed.
        var spanning: [TaskKey: Int] = [:]
        for round in 0..<4 {
            for _ in 0..<2 {
                let accepted = try harness.client.postJSON("/sluice/api/v1/pipelines/mesh/jobs", #"{"params":{}}"#, as: "alice")
                try #require(accepted.status == 202, "round \(round): \(accepted)\n\(harness.logs())")
                acknowledged.append(Int64(try JobDocument.decode(accepted.body).id))
            }
            // Shorter than a job takes (four levels of 0.2 s tasks), so every kill hits running work.
            try await Task.sleep(for: .milliseconds(100 + Int(random.next() % 700)))
            // Attempts seen before the kill; the kill comes later still, so the real ones can only be higher.
            attempts.merge(try Self.attempts(in: store)) { max($0, $1) }
            spanning.merge(try Self.startedAttempts(in: store)) { max($0, $1) }
            let killed = try await harness.killSluice()
            // Every other round sends no request until the new sluice runs: lighttpd must respawn it by itself.
            _ = try await harness.waitForRestart(replacing: killed, nudge: round % 2 == 1)
        }
        let settled = try await Self.settle(harness, store, acknowledged: acknowledged, attemptsBefore: attempts)
        #expect(settled.count == acknowledged.count, "\(settled.values.map(Self.summary))")
        #expect(!spanning.isEmpty, "no kill hit a running task: the test proves nothing")

        // Runs per task, from the shared file: which attempts actually started a process.
        let text = (try? String(contentsOfFile: harness.directory + "/runs", encoding: .utf8)) ?? ""
        var runs: [TaskKey: [Int]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let job = Int64(fields[0]), let attempt = Int(fields[2]) else {
                Issue.record("malformed line in runs: \(line)")
                continue
            }
            runs[TaskKey(job: job, task: String(fields[1])), default: []].append(attempt)
        }
        var retried: [String] = []
        for job in settled.values.sorted(by: { $0.id < $1.id }) {
            #expect(job.state == .succeeded, "only sluice was killed, yet: \(Self.summary(job))\n\(harness.logs())")
            for task in job.tasks {
                let key = TaskKey(job: job.id, task: task.name)
                // Exactly one process ran, and it was the recorded attempt: an attempt that had
                // started was never interrupted and never run again. (A kill between a claim's
                // commit and its supervisor's start may lose an attempt that never ran: retried.)
                #expect(runs[key] == [task.attempt], "\(key) ran as attempts \(runs[key] ?? []): \(Self.summary(job))\n\(harness.logs())")
                if let started = spanning[key] {
                    #expect(task.attempt == started, "\(key) was running (attempt \(started)) at a kill: \(Self.summary(job))")
                }
                if task.attempt > 1 { retried.append("\(key)#\(task.attempt)") }
            }
        }
        print(
            "CrashRecoveryTests.randomKills: \(spanning.count) running attempts spanned a kill; "
                + "attempts lost before their supervisor started (retried): \(retried)")
    }
}

// MARK: - Helpers

extension CrashRecoveryTests {
    /// A task of a job, as a key for attempt counts.
    struct TaskKey: Hashable, CustomStringConvertible {
        /// The job id.
        let job: Int64
        /// The task's name.
        let task: String

        var description: String { "\(self.job)/\(self.task)" }
    }

    /// The `SLUICE_FAULT` marker of one test: a fresh path that does not exist yet.
    struct FaultMarker {
        /// The fault point, e.g. `after-claim`.
        let point: String
        /// The marker file sluice creates when the fault fires.
        let path: String

        /// A marker for `point` at a new path under `/tmp`.
        init(_ point: String) {
            self.point = point
            self.path = "/tmp/sluice-fault-\(UUID().uuidString)"
        }

        /// The value of `SLUICE_FAULT`.
        var environmentValue: String { "\(self.point)@\(self.path)" }

        /// Whether the fault has fired.
        var hasFired: Bool { FileManager.default.fileExists(atPath: self.path) }

        /// Removes the marker file.
        func remove() { unlink(self.path) }
    }
}

extension JobRecord {
    /// The task with this name, if any.
    func task(_ name: String) -> TaskRecord? {
        self.tasks.first { $0.name == name }
    }
}

extension CrashRecoveryTests {
    /// Starts lighttpd and sluice with `fault` armed (and the restart gate, unless told otherwise)
    /// and opens the job store beside it.
    static func start(
        fault: FaultMarker?, restartGate: Bool = true, pipelines: (_ directory: String) -> String
    ) async throws -> (LighttpdHarness, any JobStore) {
        var options = LighttpdHarness.Options()
        options.restartGate = restartGate
        // The tests wait for sluice's "re-adopted running task" lines; scripts/test sets warning.
        options.sluiceEnvironment["SLUICE_LOG_LEVEL"] = "info"
        if let fault { options.sluiceEnvironment["SLUICE_FAULT"] = fault.environmentValue }
        let harness = try await LighttpdHarness.start(options) { directory in
            Self.sluiceConfig(directory: directory, pipelines: pipelines(directory))
        }
        do {
            return (harness, try Self.openStore(harness))
        } catch {
            harness.shutdown()
            throw error
        }
    }

    /// The store the harness's sluice uses: the PostgreSQL schema `HarnessStore` put into its
    /// configuration when `HarnessStore.isPostgres`, else the SQLite file in its data directory.
    /// Sluice created and migrated either before it answered the health check.
    static func openStore(_ harness: LighttpdHarness) throws -> any JobStore {
        guard HarnessStore.isPostgres else { return try SQLiteJobStore(path: harness.directory + "/data/sluice.db") }
        guard let connection = try HarnessStore.connection(directory: harness.directory) else {
            throw HarnessError("SLUICE_TEST_HARNESS_STORE=postgres, but the harness wrote no \(HarnessStore.connectionFile)")
        }
        return try PostgresJobStore(connection: connection, password: TestPostgres.password, poolSize: 2)
    }

    /// What the store's own consistency check finds wrong (nothing: `[]`). On SQLite that is
    /// `PRAGMA integrity_check`: a SIGKILL of sluice is a crash of the database's only writer,
    /// mid-transaction or mid-checkpoint. On PostgreSQL the crash never reaches the database: only
    /// a client dies, and the server rolls back what it had not committed (which `violations`
    /// checks from the rows); the server's own check, amcheck, needs a superuser the test role
    /// is not. So there is nothing more to run there.
    static func integrityProblems(of store: any JobStore) throws -> [String] {
        switch store {
        case let sqlite as SQLiteJobStore:
            let integrity = try sqlite.integrityCheck()
            return integrity == ["ok"] ? [] : ["PRAGMA integrity_check: \(integrity)"]
        case is PostgresJobStore:
            return []
        default:
            throw HarnessError("no integrity check for a \(type(of: store))")
        }
    }

    /// The id of the job a trigger's answer acknowledged (a 202 with a job), as a list of zero or one.
    static func acknowledgedJobs(_ response: HTTPClient.Response?) -> [Int64] {
        guard let response, response.status == 202, let job = try? JobDocument.decode(response.body) else { return [] }
        return [Int64(job.id)]
    }

    /// The one sluice process (max-procs is 1).
    static func onlySluice(_ harness: LighttpdHarness) throws -> pid_t {
        let pids = harness.sluiceProcessIDs().filter(harness.isSluice)
        guard pids.count == 1, let pid = pids.first else { throw HarnessError("expected one sluice process, found \(pids)") }
        return pid
    }

    /// Waits until `fault` has fired: its marker exists and sluice `pid` is gone.
    static func waitForFault(_ fault: FaultMarker, killing pid: pid_t, harness: LighttpdHarness) async throws {
        guard await Poll.until(within: .seconds(15), { fault.hasFired && ProcessTable.isGone(pid) }) else {
            throw HarnessError(
                "fault point \(fault.point) did not fire within 15 s (marker \(fault.hasFired ? "exists" : "missing"), "
                    + "sluice \(pid) \(ProcessTable.isGone(pid) ? "gone" : "alive")); is it wired into Sluice?\n\(harness.logs())")
        }
    }

    /// Polls `condition` every 50 ms for at most `timeout`.
    /// - Throws: `HarnessError` naming `what`, with the store's jobs and the logs, on timeout.
    static func poll(
        _ what: String, harness: LighttpdHarness, store: any JobStore, timeout: Duration = .seconds(15),
        until condition: () throws -> Bool
    ) async throws {
        guard try await Poll.until(within: timeout, every: .milliseconds(50), condition) else {
            throw HarnessError("timed out after \(timeout) waiting for \(what)\n\(Self.dump(store))\n\(harness.logs())")
        }
    }

    /// The process-group ids the task `name` recorded, one per attempt that ran (see `task(...)`).
    static func processGroups(of name: String, in harness: LighttpdHarness) -> [pid_t] {
        let text = (try? String(contentsOfFile: harness.directory + "/pgids-\(name)", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Waits until the task `name` has recorded the process group of its first attempt.
    static func waitForProcessGroup(of name: String, in harness: LighttpdHarness) async throws -> pid_t {
        guard let group = await Poll.value(within: .seconds(15), { Self.processGroups(of: name, in: harness).first }) else {
            throw HarnessError("task \(name) never started its process\n\(harness.logs())")
        }
        return group
    }

    /// The living members of process group `group` after giving them `grace` to die, with their argv.
    static func survivors(ofProcessGroup group: pid_t, grace: Duration = .seconds(3)) async throws -> [String] {
        await Poll.until(within: grace, every: .milliseconds(50)) { ProcessTable.livingMembers(ofProcessGroup: group).isEmpty }
        return ProcessTable.livingMembers(ofProcessGroup: group).map {
            "\($0) \((ProcessTable.commandLine(of: $0) ?? []).joined(separator: " "))"
        }
    }

    /// The outcome an attempt's supervisor appended to its job's status journal
    /// (`<data>/logs/<job>/status.journal`), read as Sluice reads it; nil if none is there (yet).
    static func recordedOutcome(_ harness: LighttpdHarness, job: Int64, task: String, attempt: Int) -> SupervisorStatus? {
        let logs = harness.directory + "/data/logs"
        var journal = StatusJournal(path: "\(logs)/\(job)/status.journal")
        return try? journal.take(runKey: ProcessIdentity.runKey(logDirectory: logs, jobID: job, task: task, attempt: attempt))
    }

    /// The log of a task's attempt as it is on disk now ("" if there is none yet).
    static func taskLog(_ harness: LighttpdHarness, job: Int64, task: String, attempt: Int = 1) -> String {
        (try? String(contentsOfFile: harness.directory + "/data/logs/\(job)/\(task).\(attempt).log", encoding: .utf8)) ?? ""
    }

    /// How many times a sluice of this harness logged that it re-adopted `task` of job `job`.
    static func readoptions(of task: String, job: Int64, in harness: LighttpdHarness) -> Int {
        harness.logs().split(separator: "\n").filter {
            $0.contains(#""msg":"re-adopted running task""#) && $0.contains(#""job.id":"\#(job)""#)
                && $0.contains(#""task":"\#(task)""#)
        }.count
    }

    /// Waits until a sluice logged (at least `count` times in all) that it re-adopted `task` of `job`.
    static func waitForReadoption(
        of task: String, job: Int64, count: Int = 1, harness: LighttpdHarness, store: any JobStore
    ) async throws {
        try await Self.poll("sluice to re-adopt \(job)/\(task)", harness: harness, store: store) {
            Self.readoptions(of: task, job: job, in: harness) >= count
        }
    }

    /// The attempt of every task recorded as running with its supervisor's pid: its supervisor
    /// had started.
    static func startedAttempts(in store: any JobStore) throws -> [TaskKey: Int] {
        var result: [TaskKey: Int] = [:]
        for summary in try store.jobs(JobQuery(limit: 1000)) where !summary.state.isTerminal {
            for task in try store.job(id: summary.id)?.tasks ?? [] where task.state == .running && task.pid != nil {
                result[TaskKey(job: summary.id, task: task.name)] = task.attempt
            }
        }
        return result
    }

    /// Every task's attempt count, from the store.
    static func attempts(in store: any JobStore) throws -> [TaskKey: Int] {
        var result: [TaskKey: Int] = [:]
        for summary in try store.jobs(JobQuery(limit: 1000)) {
            for task in try store.job(id: summary.id)?.tasks ?? [] {
                result[TaskKey(job: summary.id, task: task.name)] = task.attempt
            }
        }
        return result
    }

    /// Waits (at most 30 s) until every job in the store is terminal, then checks the recovery
    /// invariants (`violations`), the store's integrity (`integrityProblems`), that the API
    /// agrees, and that no task process is left; records an issue with the jobs and logs for
    /// anything wrong.
    /// - Returns: Every job, with its tasks, by id.
    static func settle(
        _ harness: LighttpdHarness, _ store: any JobStore, acknowledged: [Int64], attemptsBefore: [TaskKey: Int],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [Int64: JobRecord] {
        try await Self.poll("every job to be terminal", harness: harness, store: store, timeout: .seconds(30)) {
            try store.jobs(JobQuery(limit: 1000)).allSatisfy(\.state.isTerminal)
        }
        var jobs: [Int64: JobRecord] = [:]
        for summary in try store.jobs(JobQuery(limit: 1000)) {
            jobs[summary.id] = try store.job(id: summary.id)
        }
        var problems = Self.violations(jobs: jobs, acknowledged: acknowledged, attemptsBefore: attemptsBefore)
        problems += try Self.integrityProblems(of: store)
        for id in acknowledged {
            let response = try harness.client.send("GET", "/sluice/api/v1/jobs/\(id)", as: "alice")
            guard response.status == 200, let document = try? JobDocument.decode(response.body) else {
                problems.append("GET job \(id): \(response)")
                continue
            }
            if document.state != jobs[id]?.state.rawValue {
                problems.append("the API says job \(id) is \(document.state), the store \(jobs[id]?.state.rawValue ?? "nothing")")
            }
        }
        let leftovers = try await Self.leftoverTaskProcesses(harness)
        if !leftovers.isEmpty { problems.append("task processes left after every job finished: \(leftovers)") }
        #expect(
            problems.isEmpty,
            "\(problems.joined(separator: "\n"))\n\(Self.dump(store))\n\(harness.logs())", sourceLocation: sourceLocation)
        return jobs
    }

    /// What breaks the recovery invariants, given every job (with tasks) after recovery settled.
    ///
    /// - every acknowledged job exists;
    /// - every job is terminal, no task is queued or running, and the job's state is the one its
    ///   tasks imply;
    /// - no task's attempt count is below one seen earlier;
    /// - every task that started (has `started_at`) counted an attempt, and started only after each
    ///   task it needs had succeeded and finished (`finished_at ≤ started_at`, both from the store);
    /// - a command that succeeded exited with 0.
    static func violations(jobs: [Int64: JobRecord], acknowledged: [Int64], attemptsBefore: [TaskKey: Int]) -> [String] {
        var problems: [String] = []
        for id in acknowledged where jobs[id] == nil {
            problems.append("acknowledged job \(id) is missing")
        }
        for job in jobs.values.sorted(by: { $0.id < $1.id }) {
            if !job.state.isTerminal { problems.append("job \(job.id) is \(job.state.rawValue)") }
            let derived = JobState.derived(from: job.tasks.map(\.state))
            if derived != job.state {
                problems.append("job \(job.id) is \(job.state.rawValue) but its tasks make it \(derived.rawValue)")
            }
            let byName = Dictionary(job.tasks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for task in job.tasks {
                let key = TaskKey(job: job.id, task: task.name)
                if !task.state.isTerminal { problems.append("\(key) is still \(task.state.rawValue)") }
                if let before = attemptsBefore[key], task.attempt < before {
                    problems.append("\(key): attempt went down from \(before) to \(task.attempt)")
                }
                if task.kind == .command && task.state == .succeeded && task.exitCode != 0 {
                    problems.append("\(key) succeeded with exit code \(task.exitCode.map(String.init) ?? "nil")")
                }
                guard let started = task.startedAt else { continue }
                if task.kind == .command && task.attempt < 1 { problems.append("\(key) started without counting an attempt") }
                for name in task.needs {
                    guard let need = byName[name] else {
                        problems.append("\(key) needs \(name), which the job does not have")
                        continue
                    }
                    if need.state != .succeeded {
                        problems.append("\(key) started although \(name) is \(need.state.rawValue)")
                    } else if let finished = need.finishedAt, finished > started {
                        problems.append("\(key) started at \(started) before \(name) finished at \(finished)")
                    } else if need.finishedAt == nil {
                        problems.append("\(key) started but \(name) has no finished_at")
                    }
                }
            }
        }
        return problems
    }

    /// Processes of this harness still running other than lighttpd and sluice (tasks, which run
    /// in the harness directory, and supervisors, whose argv names their log there), after a
    /// grace of 3 s for any that are just ending.
    static func leftoverTaskProcesses(_ harness: LighttpdHarness) async throws -> [String] {
        func scan() -> [pid_t] {
            ProcessTable.allProcessIDs().filter { pid in
                guard pid != getpid(), !ProcessTable.isGone(pid) else { return false }
                let argv = ProcessTable.commandLine(of: pid) ?? []
                guard
                    ProcessTable.workingDirectory(of: pid) == harness.directory
                        || argv.contains(where: { $0.hasPrefix(harness.directory + "/") })
                else { return false }
                return !argv.contains(harness.sluiceConfigPath) && !argv.contains(harness.directory + "/lighttpd.conf")
            }
        }
        await Poll.until(within: .seconds(3), every: .milliseconds(50)) { scan().isEmpty }
        return scan().map { "\($0) \((ProcessTable.commandLine(of: $0) ?? []).joined(separator: " "))" }
    }

    /// `job 3 diamond succeeded [start:succeeded#2(0) left:succeeded#1(0) …]`, for messages.
    static func summary(_ job: JobRecord) -> String {
        let tasks = job.tasks.map { task in
            "\(task.name):\(task.state.rawValue)#\(task.attempt)" + (task.exitCode.map { "(\($0))" } ?? "")
                + (task.message.map { " \"\($0)\"" } ?? "")
        }
        return "job \(job.id) \(job.pipeline) \(job.state.rawValue) [\(tasks.joined(separator: " "))]"
    }

    /// Every job in the store, one summary line each, for failure messages.
    static func dump(_ store: any JobStore) -> String {
        let jobs = (try? store.jobs(JobQuery(limit: 1000))) ?? []
        let lines = jobs.reversed().map { summary in
            (try? store.job(id: summary.id)).flatMap { $0 }.map(Self.summary) ?? "job \(summary.id): unreadable"
        }
        return "--- jobs in the store\n" + lines.joined(separator: "\n")
    }
}
