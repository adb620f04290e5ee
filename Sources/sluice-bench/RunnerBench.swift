import Foundation
import JobStore
import Locking
import SQLiteStore
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Runner benchmarks: one job through the real runner and a real store, timed from the trigger
/// (validating the pipeline, resolving its tasks and committing the job) to the commit of its
/// final state. `--store sqlite` (the default): a durable SQLite store (WAL, `synchronous=FULL`)
/// in a fresh temporary directory. `--store postgres`: a fresh schema of the PostgreSQL database
/// at `SLUICE_BENCH_POSTGRES_URL` (see `BenchStore`), the runner a host on it (lease, claims,
/// fenced commits); its registration is start-up, outside the timed span.
///
///     sluice-bench runner-dag --tasks N [--store sqlite|postgres]
///         a layered DAG of `noop` tasks, width 10, task (k, j) needing (k-1, j) and
///         (k-1, (j+1) % 10): prints {"tasks":N,"seconds":S,"peak_rss_kb":K,"trigger_seconds":T,
///         "store":"...","store_seconds":{...}} (on PostgreSQL also "pg_round_trip_ms" and
///         "pg_commit_ms", see `BenchStore.probeLatencies`)
///     sluice-bench runner-procs --tasks N --parallelism P [--store sqlite|postgres]
///         N independent `/bin/true` tasks: prints {"tasks":N,"seconds":S,"per_second":R,"peak_rss_kb":K,...}
///
/// `store_seconds` is the time spent in each store method during the timed span (`StoreTimes`):
/// where the time goes.
enum RunnerBench {
    /// The layered DAG (the same shape as scripts/bench-support/luigi_layered.py).
    static func layeredPipeline(tasks n: Int) -> PipelineDefinition {
        let width = 10
        var tasks: [TaskDefinition] = []
        tasks.reserveCapacity(n)
        for k in 0..<(n / width) {
            for j in 0..<width {
                let needs = k == 0 ? [] : ["t\(k - 1)_\(j)", "t\(k - 1)_\((j + 1) % width)"]
                tasks.append(TaskDefinition(name: "t\(k)_\(j)", run: [], needs: needs, kind: .noop))
            }
        }
        return PipelineDefinition(name: "layered", tasks: tasks)
    }

    static func processPipeline(tasks n: Int, name: String = "procs") -> PipelineDefinition {
        let run = try! ArgvTemplate("/bin/true")
        return PipelineDefinition(name: name, tasks: (0..<n).map { TaskDefinition(name: "p\($0)", run: [run]) })
    }

    static func dag(_ options: Options) {
        let n = Int(options.positive("--tasks", default: 1000))
        guard n % 10 == 0 else { fail("--tasks must be a multiple of 10", status: 2) }
        let result = self.measure(self.layeredPipeline(tasks: n), parallelism: 8, store: BenchStoreKind(options))
        print(
            "{\"tasks\":\(n),\"seconds\":\(result.seconds),\"peak_rss_kb\":\(self.peakRSSKilobytes()),\"trigger_seconds\":\(result.triggerSeconds)\(result.details)}"
        )
    }

    static func processes(_ options: Options) {
        let n = Int(options.positive("--tasks", default: 1000))
        let parallelism = Int(options.positive("--parallelism", default: 8))
        let result = self.measure(self.processPipeline(tasks: n), parallelism: parallelism, store: BenchStoreKind(options))
        print(
            "{\"tasks\":\(n),\"seconds\":\(result.seconds),\"per_second\":\(Double(n) / result.seconds),\"peak_rss_kb\":\(self.peakRSSKilobytes())\(result.details)}"
        )
    }

    /// The job `pipeline` makes with no parameters, as the trigger creates it.
    static func newJob(_ pipeline: PipelineDefinition, workingDirectory: String) -> NewJob {
        let problems = pipeline.problems()
        guard problems.isEmpty else { fail("pipeline invalid: \(problems)") }
        let values: [String: String]
        do { values = try pipeline.resolveParameters([:]) } catch { fail("parameters: \(error)") }
        return NewJob(
            pipeline: pipeline.name, triggeredBy: "bench", identitySource: "bench", params: values, workingDirectory: workingDirectory,
            tasks: pipeline.resolvedTasks(values), identity: pipeline.identity(values))
    }

    /// Runs one job of `pipeline` to completion on a fresh store of `kind`; fails unless it
    /// succeeded. `details` is the rest of the JSON object: `,"store":...` and what follows.
    static func measure(_ pipeline: PipelineDefinition, parallelism: Int, store kind: BenchStoreKind) -> (
        seconds: Double, triggerSeconds: Double, details: String
    ) {
        let bench = BenchStore(kind, label: "run")
        defer { bench.remove() }
        let latencies = bench.probeLatencies()
        let store = bench.open()
        let done = DispatchSemaphore(value: 0)
        // Set by the runner thread (through onJobChange), read here after `done`.
        let finalState = Locked<JobState?>(nil)
        let runner = Runner(
            store: store,
            configuration: bench.configuration(
                host: "h1", parallelism: parallelism,
                onJobChange: { _, state in
                    if state.isTerminal {
                        finalState.withLock { $0 = state }
                        done.signal()
                    }
                }))
        runner.start()
        defer { runner.stop() }
        bench.waitRegistered(runner)
        bench.times.reset()
        let start = DispatchTime.now()
        // The trigger: what `POST /api/v1/pipelines/{name}/jobs` does after authorization.
        let job = self.newJob(pipeline, workingDirectory: bench.directory)
        do { _ = try store.submit(job, rules: SubmissionRules()) } catch { fail("cannot create job: \(error)") }
        let triggered = DispatchTime.now()
        runner.wake()
        done.wait()
        let end = DispatchTime.now()
        let ended = finalState.withLock { $0 }
        guard ended == .succeeded else { fail("job ended \(ended.map(\.rawValue) ?? "?")") }
        var details = ",\"store\":\"\(kind.rawValue)\",\"store_seconds\":\(bench.times.json())"
        if let latencies {
            details += ",\"pg_round_trip_ms\":\(latencies.roundTrip * 1000),\"pg_commit_ms\":\(latencies.commit * 1000)"
        }
        return (
            Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9,
            Double(triggered.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9,
            details
        )
    }

    /// VmHWM: the peak resident set size of this process, in KiB.
    static func peakRSSKilobytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        return -1
    }
}

extension RunnerBench {
    /// `sluice-bench runner-adopt --tasks N`: N tasks running under their supervisors, a runner
    /// stopped (tasks left running) and a new one started on the same store: prints the seconds
    /// from the new runner's start until it watches all N again,
    /// {"tasks":N,"adopt_seconds":S,"start_seconds":T}, after checking that no task was started
    /// twice and that cancelling the job then stops all of them.
    static func adopt(_ options: Options) {
        let n = Int(options.positive("--tasks", default: 1000))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-bench-adopt-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store: SQLiteJobStore
        do { store = try SQLiteJobStore(path: directory + "/bench.db") } catch { fail("cannot open store: \(error)") }
        // Idle tasks (a polling loop in each would load the machine and skew the measurement).
        let tasks = (0..<n).map { TaskRecord(name: "w\($0)", needs: [], argv: ["/bin/sleep", "600"]) }
        let configuration = Runner.Configuration(parallelism: n, logDirectory: directory + "/logs")
        let job: JobRecord
        do {
            job = try store.createJob(
                NewJob(
                    pipeline: "adopt", triggeredBy: "bench", identitySource: "bench", params: [:], workingDirectory: directory, tasks: tasks
                ))
        } catch { fail("cannot create job: \(error)") }
        let first = Runner(store: store, configuration: configuration)
        first.start()
        guard Self.wait(for: n, first, seconds: 120) else { fail("the first runner never had \(n) tasks running") }
        first.stop()
        let start = DispatchTime.now()
        let second = Runner(store: store, configuration: configuration)
        second.start()
        let started = DispatchTime.now()
        guard Self.wait(for: n, second, seconds: 60) else { fail("the new runner did not re-adopt \(n) tasks") }
        let end = DispatchTime.now()
        let attempts = (try? store.job(id: job.id))?.tasks.map(\.attempt) ?? []
        // Done measuring: cancel the job, which stops every task through its supervisor.
        do { _ = try store.requestCancel(jobID: job.id) } catch { fail("cannot cancel: \(error)") }
        second.wake()
        var finished: JobRecord? = nil
        for _ in 0..<600 {
            finished = try? store.job(id: job.id)
            if finished?.state.isTerminal == true { break }
            usleep(100_000)
        }
        second.stop()
        guard attempts.count == n, attempts.allSatisfy({ $0 == 1 }), finished?.state == .cancelled else {
            fail("job ended \(finished?.state.rawValue ?? "?"), attempts before the cancel \(Set(attempts))")
        }
        print(
            "{\"tasks\":\(n),\"adopt_seconds\":\(Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9),\"start_seconds\":\(Double(started.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)}"
        )
    }

    /// Waits until `runner` has `n` tasks running; false after `seconds`.
    private static func wait(for n: Int, _ runner: Runner, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if runner.activity.runningTasks == n { return true }
            usleep(5_000)
        }
        return false
    }
}
