import Foundation
import JobStore
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// A command task with options.
private func command(_ name: String, needs: [String] = [], _ argv: [String], _ options: TaskOptions = .standard) -> TaskRecord {
    TaskRecord(name: name, needs: needs, argv: argv, options: options)
}

/// A task that runs nothing.
private func noop(_ name: String, needs: [String] = []) -> TaskRecord {
    TaskRecord(name: name, needs: needs, argv: [], kind: .noop)
}

/// Retries after exactly `delay` seconds (no backoff, no jitter).
private func fixedRetry(_ retries: Int, delay: Double = 0.05) -> RetryPolicy {
    RetryPolicy(retries: retries, initialDelay: delay, factor: 1, maxDelay: delay, jitter: 0)
}

/// A script that counts its runs in the file `$1` and fails (status 5) until run `$2`.
private func succeedsOnRun(_ run: Int, counter: String) -> [String] {
    sh(
        "n=$(cat \"$1\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$1\"; echo \"run $n attempt $SLUICE_ATTEMPT\"; [ $n -ge $2 ] || exit 5",
        counter, String(run))
}

/// `touch $1`, then wait (at most `seconds`) for `$2` to exist: succeeds only when another task runs meanwhile.
private func rendezvous(_ here: String, _ other: String, seconds: Int = 5) -> [String] {
    sh(
        "touch \"$1\"; i=0; while [ ! -e \"$2\" ]; do i=$((i+1)); [ $i -gt $3 ] && exit 1; sleep 0.02; done", here, other,
        String(seconds * 50))
}

/// Appends `start <name>` and, `seconds` later, `end <name>` to the trace file.
private func traced(_ name: String, trace: String, seconds: Double = 0.15) -> [String] {
    sh("echo \"start $1\" >> \"$2\"; sleep $3; echo \"end $1\" >> \"$2\"", name, trace, String(seconds))
}

/// The most tasks that were between `start` and `end` at once in a trace, each weighted.
private func maxOverlap(_ lines: [String], weights: [String: Int] = [:]) -> Int {
    var current = 0
    var most = 0
    for line in lines {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        let weight = weights[parts[1]] ?? 1
        if parts[0] == "start" {
            current += weight
            most = max(most, current)
        } else if parts[0] == "end" {
            current -= weight
        }
    }
    return most
}

/// The pid of `task` once it runs and its pid is recorded.
/// The process group of `task`'s running first attempt (its supervisor's pid is what the store holds).
private func pidWhenRunning(_ h: RunnerHarness, _ job: JobRecord, _ task: String) throws -> Int32 {
    _ = try #require(try h.job(job.id, within: .seconds(10)) { $0.task(task)?.state == .running && $0.task(task)?.pid != nil })
    return try h.taskGroup(job, task)
}

private func touch(_ path: String) { _ = FileManager.default.createFile(atPath: path, contents: nil) }

private func realPath(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

extension RunnerHarness {
    /// A job description of full task records, by "tester", in the harness's working directory.
    func newJob(
        _ tasks: [TaskRecord], pipeline: String = "test", params: [String: String] = [:], identity: String = "",
        secretParameters: [String] = []
    ) -> NewJob {
        NewJob(
            pipeline: pipeline, triggeredBy: "tester", identitySource: "test", params: params, workingDirectory: self.workingDirectory,
            tasks: tasks, identity: identity, secretParameters: secretParameters)
    }

    /// Creates a job of full task records; does not wake the runner.
    @discardableResult
    func createJob(records: [TaskRecord], pipeline: String = "test", params: [String: String] = [:]) throws -> JobRecord {
        try self.store.createJob(self.newJob(records, pipeline: pipeline, params: params))
    }

    /// Creates a job of full task records and wakes the runner.
    @discardableResult
    func submit(records: [TaskRecord], pipeline: String = "test", params: [String: String] = [:]) throws -> JobRecord {
        let job = try self.createJob(records: records, pipeline: pipeline, params: params)
        self.runner.wake()
        return job
    }

    /// Submits through `store.submit` and requires that a job was created.
    func submitCreated(_ job: NewJob, rules: SubmissionRules) throws -> JobRecord {
        let submission = try self.store.submit(job, rules: rules)
        guard case .created(let record) = submission else {
            Issue.record("expected a new job, got \(submission)")
            throw CancellationError()
        }
        return record
    }

    func hasLog(_ job: JobRecord, _ task: String, attempt: Int) -> Bool {
        FileManager.default.fileExists(
            atPath: Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: job.id, task: task, attempt: attempt))
    }

    /// Lines of a file the tasks wrote.
    func lines(of path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

extension RunnerTests {
    // MARK: - noop

    @Test("noop tasks succeed without a process while the only slot is taken by a running command")
    func noopTakesNoSlot() throws {
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        let gate = h.dir.file("gate")
        h.start()
        let job = try h.submit(records: [
            command("long", sh("while [ ! -e \"$1\" ]; do sleep 0.02; done", gate)),
            noop("group"), noop("join", needs: ["group"]),
            command("last", needs: ["long", "join"], sh("echo last")),
        ])
        let meanwhile = try #require(try h.job(job.id, within: .seconds(5)) { $0.task("join")?.state == .succeeded })
        #expect(meanwhile.task("long")?.state == .running)
        #expect(meanwhile.task("last")?.state == .queued)
        #expect(meanwhile.state == .running)
        for name in ["group", "join"] {
            let task = try #require(meanwhile.task(name))
            #expect(task.state == .succeeded, "\(name)")
            #expect(task.attempt == 0 && task.pid == nil && task.exitCode == nil && task.startedAt == nil, "\(name)")
            #expect(task.finishedAt != nil, "\(name)")
            #expect(!h.hasLog(meanwhile, name, attempt: 1), "\(name)")
        }
        touch(gate)
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(h.log(done, "last") == "last\n")
    }

    @Test("A noop task ready behind a command that waits for a slot still completes at once")
    func noopBehindWaitingCommand() throws {
        // Ready order: long (takes the only slot), waiting (a command: no slot left), group (noop).
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        let gate = h.dir.file("gate")
        h.start()
        let job = try h.submit(records: [
            command("long", sh("while [ ! -e \"$1\" ]; do sleep 0.02; done", gate)),
            command("waiting", sh("exit 0")),
            noop("group"),
        ])
        _ = try pidWhenRunning(h, job, "long")
        let meanwhile = try h.job(job.id, within: .seconds(2)) { $0.task("group")?.state == .succeeded }
        #expect(meanwhile != nil, "the noop task waited for a process slot although it takes none")
        touch(gate)
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
    }

    // MARK: - creates

    @Test("creates: an existing output skips the run, a missing one after exit 0 fails the task, a made one succeeds")
    func createsOutcomes() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let existing = h.dir.file("existing.out")
        touch(existing)
        let marker = h.dir.file("marker")
        let missing = h.dir.file("never.out")
        let made = h.dir.file("made.out")
        h.start()
        let job = try h.submit(records: [
            command("done", sh("touch \"$1\"; exit 3", marker), TaskOptions(creates: existing)),
            command("after-done", needs: ["done"], sh("exit 0")),
            command("lazy", sh("echo lazy"), TaskOptions(creates: missing)),
            command("after-lazy", needs: ["lazy"], sh("exit 0")),
            command("lazy-retried", sh("exit 0"), TaskOptions(retry: fixedRetry(1), creates: missing)),
            command("maker", sh("touch \"$1\"", made), TaskOptions(creates: made)),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)

        let skipped = try #require(done.task("done"))
        #expect(skipped.state == .succeeded)
        #expect(skipped.message == "already complete: \(existing) exists")
        #expect(skipped.attempt == 0 && skipped.exitCode == nil && skipped.pid == nil)
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
        #expect(!h.hasLog(done, "done", attempt: 1))
        #expect(done.task("after-done")?.state == .succeeded)

        let lazy = try #require(done.task("lazy"))
        #expect(lazy.state == .failed)
        #expect(lazy.exitCode == 0)
        #expect(lazy.message == "exited with status 0 but did not create \(missing)")
        #expect(lazy.attempt == 1)
        #expect(h.log(done, "lazy") == "lazy\n")
        #expect(done.task("after-lazy")?.state == .skipped)
        // A missing output is a failure like any other: it is retried.
        #expect(done.task("lazy-retried")?.state == .failed)
        #expect(done.task("lazy-retried")?.attempt == 2)

        let maker = try #require(done.task("maker"))
        #expect(maker.state == .succeeded)
        #expect(maker.exitCode == 0 && maker.attempt == 1 && maker.message == nil)
    }

    @Test("A relative creates path is resolved in the task's working directory, not Sluice's")
    func createsRelativePath() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let made = "sluice-made-\(UUID().uuidString).out"
        let present = "sluice-present-\(UUID().uuidString).out"
        touch(h.workingDirectory + "/" + present)
        h.start()
        let job = try h.submit(records: [
            command("maker", sh("touch \"$1\"", made), TaskOptions(creates: made)),
            command("present", sh("exit 9"), TaskOptions(creates: present)),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(FileManager.default.fileExists(atPath: h.workingDirectory + "/" + made))
        #expect(done.task("maker")?.state == .succeeded, "\(done.task("maker")?.message ?? "")")
        #expect(done.task("present")?.state == .succeeded, "\(done.task("present")?.message ?? "")")
        #expect(done.task("present")?.attempt == 0)
    }

    // MARK: - Retries

    @Test("A task that fails twice succeeds on its third attempt with retries: 2, one log per attempt")
    func retriesUntilSuccess() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [
            command("flaky", succeedsOnRun(3, counter: h.dir.file("count")), TaskOptions(retry: fixedRetry(2))),
            command("after", needs: ["flaky"], sh("exit 0")),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        let flaky = try #require(done.task("flaky"))
        #expect(flaky.state == .succeeded)
        #expect(flaky.attempt == 3)
        #expect(flaky.exitCode == 0)
        #expect(flaky.message == nil)
        #expect(flaky.retryAt == nil)
        for attempt in 1...3 { #expect(h.log(done, "flaky", attempt: attempt) == "run \(attempt) attempt \(attempt)\n") }
        #expect(!h.hasLog(done, "flaky", attempt: 4))
        let after = try #require(done.task("after"))
        #expect(after.state == .succeeded && after.attempt == 1)
        #expect(try #require(after.startedAt) >= (try #require(flaky.finishedAt)))
    }

    @Test("With retries: 1 a failing task fails after 2 attempts; meanwhile it waits queued and its downstream is not skipped")
    func retriesExhausted() throws {
        // jitter 0.5 with random 0.5: the delay is 0.8 * (1 - 0.25) = 0.6 s.
        let h = try RunnerHarness(random: { 0.5 })
        defer { h.tearDown() }
        h.start()
        let policy = RetryPolicy(retries: 1, initialDelay: 0.8, factor: 2, maxDelay: 10, jitter: 0.5)
        let job = try h.submit(records: [
            command("flaky", sh("echo \"attempt $SLUICE_ATTEMPT\"; exit 4"), TaskOptions(retry: policy)),
            command("after", needs: ["flaky"], sh("exit 0")),
        ])
        let waiting = try #require(
            try h.job(job.id, within: .seconds(5)) { $0.task("flaky")?.state == .queued && $0.task("flaky")?.retryAt != nil })
        let pending = try #require(waiting.task("flaky"))
        #expect(pending.attempt == 1)
        #expect(pending.exitCode == 4)
        #expect(pending.message == "exited with status 4; attempt 2 of 2 in 0.6 s")
        let retryAt = try #require(pending.retryAt)
        let failedAt = try #require(pending.finishedAt)
        #expect(abs(retryAt.timeIntervalSince(failedAt) - 0.6) < 0.25, "\(retryAt.timeIntervalSince(failedAt))")
        #expect(waiting.task("after")?.state == .queued, "downstream skipped before the last attempt")
        #expect(!waiting.state.isTerminal)

        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)
        let flaky = try #require(done.task("flaky"))
        #expect(flaky.state == .failed)
        #expect(flaky.attempt == 2)
        #expect(flaky.exitCode == 4)
        #expect(flaky.message == "exited with status 4")
        #expect(flaky.retryAt == nil)
        #expect(try #require(flaky.startedAt) >= retryAt.addingTimeInterval(-0.01))
        #expect(h.log(done, "flaky", attempt: 1) == "attempt 1\n")
        #expect(h.log(done, "flaky", attempt: 2) == "attempt 2\n")
        #expect(!h.hasLog(done, "flaky", attempt: 3))
        let after = try #require(done.task("after"))
        #expect(after.state == .skipped && after.attempt == 0)
        #expect(after.message == "upstream task flaky failed")
    }

    @Test("RetryPolicy: exponential backoff up to the cap, reduced by at most jitter of itself")
    func retryDelays() {
        let plain = RetryPolicy(retries: 6, initialDelay: 1, factor: 2, maxDelay: 10, jitter: 0)
        #expect((1...6).map { plain.delay(after: $0, random: 0.7) } == [1, 2, 4, 8, 10, 10])
        #expect(plain.delay(after: 0, random: 0) == 1)
        #expect(plain.delay(after: 100, random: 0) == 10)

        var full = plain
        full.jitter = 1
        let nearlyAll = (1...6).map { full.delay(after: $0, random: 0.999) }
        for (delay, expected) in zip(nearlyAll, [0.001, 0.002, 0.004, 0.008, 0.01, 0.01]) {
            #expect(abs(delay - expected) < 1e-9, "\(nearlyAll)")
        }
        #expect((1...6).map { full.delay(after: $0, random: 0) } == [1, 2, 4, 8, 10, 10])

        var half = plain
        half.jitter = 0.5
        #expect((1...6).map { half.delay(after: $0, random: 0.5) } == [0.75, 1.5, 3, 6, 7.5, 7.5])
        for random in stride(from: 0.0, to: 1.0, by: 0.05) {
            for attempt in 1...8 {
                let base = plain.delay(after: attempt, random: 0)
                let delay = half.delay(after: attempt, random: random)
                #expect(delay <= base && delay >= base * 0.5)
            }
        }

        let none = RetryPolicy(retries: 0, initialDelay: 0, factor: 10, maxDelay: 300, jitter: 0.5)
        #expect((1...100).allSatisfy { none.delay(after: $0, random: 0.3) == 0 })

        let two = RetryPolicy(retries: 2)
        #expect([1, 2, 3].map(two.allowsAnotherAttempt(after:)) == [true, true, false])
        #expect(!RetryPolicy.none.allowsAnotherAttempt(after: 1))
    }

    // MARK: - Timeouts

    @Test("A task over its timeout is stopped with its whole process group and failed as timed out")
    func timeoutKillsGroup() throws {
        let h = try RunnerHarness(gracePeriod: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [
            command("slow", sh("sleep 30 & sleep 30; wait"), TaskOptions(timeout: 0.5)),
            command("after", needs: ["slow"], sh("exit 0")),
        ])
        let pid = try pidWhenRunning(h, job, "slow")
        #expect(Poll.blockingUntil(within: .seconds(2)) { ProcessTable.livingMembers(ofProcessGroup: pid).count >= 3 })
        let done = try #require(try h.finishedJob(job.id, within: .seconds(5)))
        #expect(done.state == .failed)
        let slow = try #require(done.task("slow"))
        #expect(slow.state == .failed)
        #expect(slow.message == "timed out after 0.5 s")
        #expect(slow.exitCode == 128 + SIGTERM)
        let ran = try #require(slow.finishedAt).timeIntervalSince(try #require(slow.startedAt))
        #expect(ran >= 0.45 && ran < 2.5, "\(ran)")
        #expect(done.task("after")?.state == .skipped)
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("A timed-out task that ignores SIGTERM is killed after the grace period")
    func timeoutEscalates() throws {
        let h = try RunnerHarness(gracePeriod: 0.3)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [command("stubborn", sh("trap '' TERM; sleep 30"), TaskOptions(timeout: 0.3))])
        let pid = try pidWhenRunning(h, job, "stubborn")
        let done = try #require(try h.finishedJob(job.id, within: .seconds(5)))
        let task = try #require(done.task("stubborn"))
        #expect(task.state == .failed)
        #expect(task.exitCode == 128 + SIGKILL)
        #expect(task.message == "timed out after 0.3 s")
        #expect(Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty })
    }

    @Test("A timed-out task is retried like a failed one")
    func timeoutRetried() throws {
        let h = try RunnerHarness(gracePeriod: 0.5)
        defer { h.tearDown() }
        h.start()
        let options = TaskOptions(retry: fixedRetry(1), timeout: 0.3)
        let job = try h.submit(records: [
            command(
                "second-time",
                sh("n=$(cat \"$1\" 2>/dev/null || echo 0); echo $((n+1)) > \"$1\"; [ $n -ge 1 ] || exec sleep 30", h.dir.file("n")), options
            ),
            command("never", sh("exec sleep 30"), options),
        ])
        let done = try #require(try h.finishedJob(job.id, within: .seconds(10)))
        let lucky = try #require(done.task("second-time"))
        #expect(lucky.state == .succeeded)
        #expect(lucky.attempt == 2)
        #expect(h.hasLog(done, "second-time", attempt: 1))
        let never = try #require(done.task("never"))
        #expect(never.state == .failed)
        #expect(never.attempt == 2)
        #expect(never.message == "timed out after 0.3 s")
        #expect(never.exitCode == 128 + SIGTERM)
        #expect(done.state == .failed)
    }

    // MARK: - Environment and working directory

    @Test("A task sees the allow-listed environment, its options' variables and SLUICE_* only, in its working directory")
    func environmentIsolation() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let leak = "SLUICE_TEST_LEAK_" + UUID().uuidString.replacingOccurrences(of: "-", with: "_")
        setenv(leak, "leaked", 1)
        defer { unsetenv(leak) }
        let elsewhere = h.dir.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let envDump = h.dir.file("env")
        h.start()
        let extra = "a b 'c' \"d\" $e \\f"
        let job = try h.submit(
            records: [
                command(
                    "show",
                    sh(
                        "printf '%s|' \"$EXTRA\" \"$SLUICE_PARAM_DAY\" \"$SLUICE_ATTEMPT\" \"$SLUICE_TASK\" \"$SLUICE_PIPELINE\" \"${HOME-unset}\" \"${USER-unset}\" \"$LANG\"; pwd; env > \"$1\"",
                        envDump),
                    TaskOptions(environment: ["EXTRA": extra, "LANG": "C", "SLUICE_TASK": "forged", "SLUICE_PARAM_DAY": "forged"])),
                command("elsewhere", sh("pwd"), TaskOptions(workingDirectory: elsewhere)),
            ], params: ["day": "2024-02-29"])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(h.log(done, "show") == "\(extra)|2024-02-29|1|show|test|unset|unset|C|\(realPath(h.workingDirectory))\n")
        #expect(h.log(done, "elsewhere") == realPath(elsewhere) + "\n")
        let names = Set(h.lines(of: envDump).compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        let expected: Set = [
            "PATH", "LANG", "EXTRA", "SLUICE_JOB_ID", "SLUICE_PIPELINE", "SLUICE_TASK", "SLUICE_ATTEMPT", "SLUICE_RUN_KEY",
            "SLUICE_PARAM_DAY",
        ]
        let shellOwn: Set = ["PWD", "OLDPWD", "SHLVL", "_"]
        #expect(expected.isSubset(of: names), "\(names)")
        #expect(names.subtracting(expected).subtracting(shellOwn).isEmpty, "leaked: \(names.subtracting(expected).subtracting(shellOwn))")
        #expect(!names.contains(leak))
    }

    @Test("Variables in the runner's configured environment reach tasks, and task options override them")
    func configuredEnvironment() throws {
        let h = try RunnerHarness(environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home", "TZ": "UTC"])
        defer { h.tearDown() }
        h.start()
        let show = sh("printf '%s|%s|%s|%s\\n' \"${HOME-unset}\" \"${TZ-unset}\" \"${LANG-unset}\" \"$PATH\"")
        let job = try h.submit(records: [
            command("plain", show),
            command("override", show, TaskOptions(environment: ["TZ": "Europe/Paris", "HOME": "/elsewhere"])),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(h.log(done, "plain") == "/nonexistent-home|UTC|unset|/usr/bin:/bin\n")
        #expect(h.log(done, "override") == "/elsewhere|Europe/Paris|unset|/usr/bin:/bin\n")
    }

    // MARK: - Named resources

    @Test("Tasks holding a resource of capacity 1 never overlap, while a task without it runs beside them")
    func resourceCapacityOne() throws {
        let h = try RunnerHarness(parallelism: 4, limits: Runner.Limits(resources: ["db": 1]))
        defer { h.tearDown() }
        let trace = h.dir.file("trace")
        let db = TaskOptions(resources: ["db": 1])
        let job = try h.createJob(records: [
            command("t1", traced("t1", trace: trace), db), command("t2", traced("t2", trace: trace), db),
            command("t3", traced("t3", trace: trace), db), command("free", sh("sleep 0.2")),
        ])
        h.start()
        let first = try #require(try h.job(job.id) { $0.tasks.contains { $0.state == .running } })
        #expect(first.tasks.filter { $0.options.resources["db"] != nil && $0.state == .running }.count <= 1)
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        let lines = h.lines(of: trace)
        #expect(lines.count == 6, "\(lines)")
        #expect(maxOverlap(lines) == 1, "\(lines)")
        // The task that holds no resource started in the first pass, before the last db task.
        let free = try #require(done.task("free")?.startedAt)
        let dbStarts = ["t1", "t2", "t3"].compactMap { done.task($0)?.startedAt }
        let lastDB = try #require(dbStarts.max())
        #expect(free < lastDB)
    }

    @Test("A resource of capacity 2 lets two holders run at once but never more units than its capacity")
    func resourceCapacityTwo() throws {
        let h = try RunnerHarness(parallelism: 4, limits: Runner.Limits(resources: ["db": 2]))
        defer { h.tearDown() }
        let trace = h.dir.file("trace")
        let one = TaskOptions(resources: ["db": 1])
        let job = try h.createJob(records: [
            command("u1", traced("u1", trace: trace), one), command("u2", traced("u2", trace: trace), one),
            command("u3", traced("u3", trace: trace), one), command("u4", traced("u4", trace: trace), one),
            command("wide", traced("wide", trace: trace), TaskOptions(resources: ["db": 2])),
        ])
        h.start()
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        let lines = h.lines(of: trace)
        #expect(lines.count == 10, "\(lines)")
        #expect(maxOverlap(lines, weights: ["wide": 2]) == 2, "\(lines)")
        #expect(maxOverlap(lines.filter { !$0.hasSuffix(" wide") }) == 2, "\(lines)")
    }

    @Test("A resource without a configured capacity does not limit its holders")
    func resourceUnconfigured() throws {
        let h = try RunnerHarness(limits: Runner.Limits(resources: ["db": 1]))
        defer { h.tearDown() }
        h.start()
        let gpu = TaskOptions(resources: ["gpu": 5])
        let job = try h.submit(records: [
            command("x", rendezvous(h.dir.file("x.here"), h.dir.file("y.here")), gpu),
            command("y", rendezvous(h.dir.file("y.here"), h.dir.file("x.here")), gpu),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded, "\(done.tasks.map { ($0.name, $0.state) })")
    }

    @Test("Raising a resource's capacity with update() starts a task that waited for it")
    func resourceCapacityRaised() throws {
        let h = try RunnerHarness(limits: Runner.Limits(resources: ["db": 1]))
        defer { h.tearDown() }
        h.start()
        let db = TaskOptions(resources: ["db": 1])
        let job = try h.submit(records: [
            command("a", rendezvous(h.dir.file("a.here"), h.dir.file("b.here"), seconds: 3), db),
            command("b", sh("touch \"$1\"", h.dir.file("b.here")), db),
        ])
        _ = try pidWhenRunning(h, job, "a")
        usleep(150_000)
        #expect(try h.store.job(id: job.id)?.task("b")?.state == .queued)
        h.runner.update(Runner.Limits(resources: ["db": 2]))
        #expect(
            Poll.blockingUntil(within: .seconds(2)) { FileManager.default.fileExists(atPath: h.dir.file("b.here")) },
            "the waiting task started only when the holder released the resource")
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.task("a")?.state == .succeeded)
    }

    // MARK: - Per-pipeline concurrency

    @Test("With concurrency 1 a pipeline's second job starts only after its first finished; other pipelines go on")
    func pipelineConcurrency() throws {
        let h = try RunnerHarness(limits: Runner.Limits(concurrency: ["p": 1]))
        defer { h.tearDown() }
        let work = [command("work", sh("sleep 0.3"))]
        let first = try h.createJob(records: work, pipeline: "p")
        let second = try h.createJob(records: work, pipeline: "p")
        let other = try h.createJob(records: work, pipeline: "q")
        h.start()
        _ = try #require(try h.job(first.id) { $0.state == .running })
        let waiting = try #require(try h.store.job(id: second.id))
        #expect(waiting.state == .queued)
        #expect(waiting.startedAt == nil && waiting.tasks.allSatisfy { $0.attempt == 0 })
        let done1 = try #require(try h.finishedJob(first.id))
        let done2 = try #require(try h.finishedJob(second.id))
        let done3 = try #require(try h.finishedJob(other.id))
        #expect([done1, done2, done3].allSatisfy { $0.state == .succeeded })
        #expect(try #require(done2.startedAt) >= (try #require(done1.finishedAt)))
        #expect(try #require(done3.startedAt) < (try #require(done1.finishedAt)))
    }

    @Test("Raising a pipeline's concurrency with update() admits a waiting job")
    func pipelineConcurrencyRaised() throws {
        let h = try RunnerHarness(limits: Runner.Limits(concurrency: ["p": 1]))
        defer { h.tearDown() }
        let gate = h.dir.file("gate")
        let first = try h.createJob(records: [command("hold", sh("while [ ! -e \"$1\" ]; do sleep 0.02; done", gate))], pipeline: "p")
        let second = try h.createJob(records: [command("quick", sh("exit 0"))], pipeline: "p")
        h.start()
        _ = try pidWhenRunning(h, first, "hold")
        usleep(150_000)
        #expect(try h.store.job(id: second.id)?.state == .queued)
        h.runner.update(Runner.Limits(concurrency: ["p": 2]))
        let done2 = try h.finishedJob(second.id, within: .seconds(3))
        #expect(done2?.state == .succeeded)
        #expect(try h.store.job(id: first.id)?.state == .running)
        touch(gate)
        #expect(try h.finishedJob(first.id)?.state == .succeeded)
    }

    // MARK: - on_duplicate: queue

    @Test("on_duplicate queue: a job waits for earlier unfinished jobs of its identity; others are not held back")
    func duplicateQueue() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let work = [command("work", sh("sleep 0.25"))]
        let queue = SubmissionRules(onDuplicate: .queue)
        let first = try h.submitCreated(h.newJob(work, pipeline: "p", identity: "same"), rules: queue)
        let second = try h.submitCreated(h.newJob(work, pipeline: "p", identity: "same"), rules: queue)
        let third = try h.submitCreated(h.newJob(work, pipeline: "p", identity: "same"), rules: queue)
        let different = try h.submitCreated(h.newJob(work, pipeline: "p", identity: "different"), rules: queue)
        let elsewhere = try h.submitCreated(h.newJob(work, pipeline: "p2", identity: "same"), rules: queue)
        let allowed = try h.submitCreated(h.newJob(work, pipeline: "p", identity: "same"), rules: SubmissionRules(onDuplicate: .allow))
        #expect(second.waitsForIdentity && third.waitsForIdentity)
        #expect(!allowed.waitsForIdentity)
        h.start()
        let finished = try [first, second, third, different, elsewhere, allowed].map { try #require(try h.finishedJob($0.id)) }
        #expect(finished.allSatisfy { $0.state == .succeeded })
        let (f1, f2, f3, fd, fe, fa) = (finished[0], finished[1], finished[2], finished[3], finished[4], finished[5])
        func start(_ job: JobRecord) throws -> Date { try #require(job.task("work")?.startedAt) }
        func end(_ job: JobRecord) throws -> Date { try #require(job.finishedAt) }
        #expect(try start(f2) >= end(f1))
        #expect(try start(f3) >= end(f2))
        #expect(try start(fd) < end(f1), "a different identity was held back")
        #expect(try start(fe) < end(f1), "the same identity in another pipeline was held back")
        #expect(try start(fa) < end(f1), "a job submitted with on_duplicate allow was held back")
    }

    // MARK: - Secrets

    @Test("Secret parameters reach the task as SLUICE_PARAM_* and are written nowhere in the database")
    func secretsInMemoryOnly() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let secret = "s3cret-" + UUID().uuidString
        let seen = h.dir.file("seen")
        let job = h.newJob(
            [
                command("use", sh("printf '%s' \"$SLUICE_PARAM_TOKEN\" > \"$1\"; echo \"day $SLUICE_PARAM_DAY\"", seen)),
                command("fail", needs: ["use"], sh("exit 3")),
            ], params: ["day": "monday"], secretParameters: ["token"])
        h.start()
        let submission = try h.runner.submitting(secrets: ["token": secret]) { try h.store.submit(job, rules: SubmissionRules()) }
        guard case .created(let created) = submission else {
            Issue.record("expected a new job, got \(submission)")
            return
        }
        h.runner.wake()
        let done = try #require(try h.finishedJob(created.id))
        #expect(done.task("use")?.state == .succeeded)
        #expect(done.task("fail")?.state == .failed)
        #expect((try? String(contentsOfFile: seen, encoding: .utf8)) == secret)
        #expect(h.log(done, "use") == "day monday\n")
        #expect(done.secretParameters == ["token"])
        #expect(done.params == ["day": "monday"])
        #expect(!"\(done)".contains(secret))
        #expect(try !h.store.jobs(JobQuery()).contains { "\($0)".contains(secret) })
        h.stop()
        let needle = Data(secret.utf8)
        for suffix in ["", "-wal", "-shm", "-journal"] {
            guard let bytes = FileManager.default.contents(atPath: h.dir.file("jobs.sqlite") + suffix) else { continue }
            #expect(bytes.range(of: needle) == nil, "the secret is in jobs.sqlite\(suffix)")
        }
    }

    @Test("A job's secrets are in place before the runner can load it")
    func secretsRegisteredBeforeLoad() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let seen = h.dir.file("seen")
        let job = h.newJob([command("use", sh("printf '%s' \"$SLUICE_PARAM_TOKEN\" > \"$1\"", seen))], secretParameters: ["token"])
        h.start()
        let submission = try h.runner.submitting(secrets: ["token": "early"]) {
            let submission = try h.store.submit(job, rules: SubmissionRules())
            // The runner sees the committed job now, while the secrets are not yet recorded.
            h.runner.wake()
            usleep(200_000)
            return submission
        }
        guard case .created(let created) = submission else {
            Issue.record("expected a new job, got \(submission)")
            return
        }
        let done = try #require(try h.finishedJob(created.id))
        #expect(done.state == .succeeded, "\(done.tasks.map { $0.message ?? "" })")
        #expect((try? String(contentsOfFile: seen, encoding: .utf8)) == "early")
    }

    @Test("A job whose secrets are not in memory (a restart) fails without running anything")
    func secretsMissingAfterRestart() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let marker = h.dir.file("marker")
        let created = try h.submitCreated(
            h.newJob(
                [command("first", sh("touch \"$1\"", marker)), command("second", needs: ["first"], sh("touch \"$1\"", marker))],
                secretParameters: ["token", "key"]),
            rules: SubmissionRules())
        h.start()
        let done = try #require(try h.finishedJob(created.id))
        #expect(done.state == .failed)
        for task in done.tasks {
            #expect(task.state == .failed, "\(task.name)")
            #expect(task.attempt == 0, "\(task.name)")
            #expect(task.message?.hasPrefix("interrupted: secret parameters") == true, "\(task.message ?? "nil")")
            #expect(task.message?.contains("token") == true && task.message?.contains("key") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("A job's secrets are forgotten once it finished: re-queued, it cannot run again")
    func secretsForgottenWhenFinished() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let seen = h.dir.file("seen")
        let job = h.newJob([command("use", sh("printf '%s' \"$SLUICE_PARAM_TOKEN\" > \"$1\"; exit 3", seen))], secretParameters: ["token"])
        h.start()
        let submission = try h.runner.submitting(secrets: ["token": "once"]) { try h.store.submit(job, rules: SubmissionRules()) }
        guard case .created(let created) = submission else {
            Issue.record("expected a new job, got \(submission)")
            return
        }
        h.runner.wake()
        #expect(try h.finishedJob(created.id)?.state == .failed)
        #expect((try? String(contentsOfFile: seen, encoding: .utf8)) == "once")
        try FileManager.default.removeItem(atPath: seen)
        #expect(try h.store.retry(jobID: created.id) != nil)
        h.runner.wake()
        let again = try #require(try h.job(created.id) { $0.state.isTerminal && $0.task("use")?.message != "retry requested" })
        #expect(again.state == .failed)
        #expect(again.task("use")?.attempt == 1)
        #expect(again.task("use")?.message?.hasPrefix("interrupted: secret parameters") == true)
        #expect(!FileManager.default.fileExists(atPath: seen))
    }

    // MARK: - Recovery, stopping and cancelling with retries

    @Test("On start, a task left running by a dead process is retried if its policy allows, else failed as interrupted")
    func recoveryRetries() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let job = try h.createJob(records: [
            command("retried", sh("echo \"attempt $SLUICE_ATTEMPT\""), TaskOptions(retry: fixedRetry(1, delay: 0.4))),
            command("plain", sh("exit 0")),
            command("after", needs: ["plain"], sh("exit 0")),
        ])
        try h.store.record(
            jobID: job.id, changes: [TaskChange(task: "retried", state: .running), TaskChange(task: "plain", state: .running)],
            jobState: .running)
        try h.store.recordProcesses([
            (job.id, "retried", try ProcessTable.deadProcessID()), (job.id, "plain", try ProcessTable.deadProcessID()),
        ])
        h.start()
        let waiting = try #require(try h.job(job.id, within: .seconds(5)) { $0.task("retried")?.retryAt != nil })
        let pending = try #require(waiting.task("retried"))
        #expect(pending.state == .queued)
        #expect(pending.attempt == 1)
        #expect(pending.message == "interrupted: Sluice stopped while the task was running; attempt 2 of 2 in 0.4 s")
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)
        let retried = try #require(done.task("retried"))
        #expect(retried.state == .succeeded)
        #expect(retried.attempt == 2)
        #expect(h.log(done, "retried", attempt: 2) == "attempt 2\n")
        let plain = try #require(done.task("plain"))
        #expect(plain.state == .failed && plain.attempt == 1)
        #expect(plain.message == "interrupted: Sluice stopped while the task was running")
        #expect(done.task("after")?.state == .skipped)
    }

    @Test("stop() queues an interrupted task for a retry if its policy allows, and the next runner retries it")
    func stopQueuesRetry() throws {
        let h = try RunnerHarness(gracePeriod: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [
            command(
                "flaky",
                sh("n=$(cat \"$1\" 2>/dev/null || echo 0); echo $((n+1)) > \"$1\"; [ $n -ge 1 ] || exec sleep 30", h.dir.file("n")),
                TaskOptions(retry: fixedRetry(1)))
        ])
        _ = try pidWhenRunning(h, job, "flaky")
        // Stop only once the first attempt counted itself (else the second would sleep too).
        #expect(Poll.blockingUntil(within: .seconds(10)) { h.lines(of: h.dir.file("n")) == ["1"] })
        h.stop()
        let stopped = try #require(try h.store.job(id: job.id))
        #expect(!stopped.state.isTerminal)
        let pending = try #require(stopped.task("flaky"))
        #expect(pending.state == .queued)
        #expect(pending.retryAt != nil)
        #expect(pending.attempt == 1)
        #expect(pending.exitCode == 128 + SIGTERM)
        #expect(pending.message?.hasPrefix("interrupted: Sluice stopped while the task was running; attempt 2 of 2") == true)
        let next = Runner(store: h.store, configuration: h.configuration)
        next.start()
        defer { next.stop() }
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        #expect(done.task("flaky")?.attempt == 2)
    }

    @Test("Cancelling a job while a task waits for its retry cancels it without another attempt")
    func cancelDuringRetryWait() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit(records: [
            command("flaky", sh("exit 2"), TaskOptions(retry: fixedRetry(3, delay: 0.5))),
            command("after", needs: ["flaky"], sh("exit 0")),
        ])
        _ = try #require(try h.job(job.id, within: .seconds(5)) { $0.task("flaky")?.retryAt != nil })
        _ = try h.store.requestCancel(jobID: job.id)
        h.runner.wake()
        let done = try #require(try h.finishedJob(job.id, within: .seconds(2)))
        #expect(done.state == .cancelled)
        #expect(done.task("flaky")?.state == .cancelled)
        #expect(done.task("flaky")?.attempt == 1)
        #expect(done.task("flaky")?.retryAt == nil)
        #expect(done.task("after")?.state == .cancelled)
        usleep(700_000)
        #expect(try h.store.job(id: job.id)?.task("flaky")?.attempt == 1)
        #expect(!h.hasLog(done, "flaky", attempt: 2))
    }
}

/// `Runner.wake(created:)`: a job handed over at its creation is run from that record; one that
/// stops waiting before the runner takes it does not stay in the table.
@Suite("Jobs handed to the runner at their creation")
struct HandedOverJobTests {
    @Test("A handed-over job runs like one read back; one cancelled while it waits for admission is forgotten")
    func handedOver() throws {
        let h = try RunnerHarness(limits: Runner.Limits(concurrency: ["test": 1]))
        defer { h.tearDown() }
        h.start()
        let marker = h.workingDirectory + "/ran"
        let first = try h.submit([("a", [], ["/bin/sh", "-c", "echo x >> \(marker); sleep 1"])])
        let second = try h.submit([("b", [], ["/bin/sh", "-c", "echo y >> \(marker)"])])
        #expect(try h.job(first.id) { $0.state == .running } != nil)
        #expect(h.runner.handedOver >= 1, "the second waits for admission, handed over")
        _ = try h.store.requestCancel(jobID: second.id)
        #expect(try h.finishedJob(second.id)?.state == .cancelled)
        #expect(try h.finishedJob(first.id)?.state == .succeeded)
        let third = try h.submit([("c", [], ["/bin/sh", "-c", "echo z >> \(marker)"])])
        #expect(try h.finishedJob(third.id)?.state == .succeeded)
        #expect(Poll.blockingUntil(within: .seconds(10)) { h.runner.handedOver == 0 }, "nothing left behind")
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "x\nz\n", "the cancelled job never ran")
    }

    @Test("The store hands a submitted job to the runner at its commit, before the submitter could (without wake(created:))")
    func handedOverAtCommit() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        // Not started: nothing takes the jobs, so what was handed over stays to be counted.
        for i in 0..<3 {
            _ = try h.store.submit(
                h.newJob([TaskRecord(name: "a", needs: [], argv: ["/bin/true"])], params: ["n": "\(i)"]), rules: SubmissionRules(),
                audit: nil)
        }
        #expect(h.runner.handedOver == 3)
        h.start()
        #expect(Poll.blockingUntil(within: .seconds(20)) { (try? h.store.jobs(JobQuery()).allSatisfy { $0.state == .succeeded }) == true })
        #expect(h.runner.handedOver == 0)
    }
}
