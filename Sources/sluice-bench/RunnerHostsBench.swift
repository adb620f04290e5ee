import Foundation
import JobStore
import Locking
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice-bench runner-hosts`: K runners in this process, each a host of one store (as
/// Tests/WorkflowTests/RunnerHostsTests.swift runs them: its own host id, log directory and, on
/// PostgreSQL, its own `PostgresJobStore` with its own connections, as a host of a deployment
/// has), and J jobs of T independent tasks triggered from S threads.
///
///     sluice-bench runner-hosts --hosts K --jobs J --tasks-per-job T [--store sqlite|postgres]
///         [--parallelism P] [--submitters S] [--task true|noop] [--pipelines N] [--submit during|before]
///
/// - `--store sqlite` allows only K = 1: a SQLite store has one runner.
/// - `--task true` (the default): every task runs `/bin/true` under its supervisor, so tasks/s
///   counts real process starts, log files and status journals, as a deployment pays them;
///   `noop` tasks start nothing and leave only the runner's and the store's own cost per job.
/// - `--submit during` (the default): the hosts are running when the triggers come, and each
///   trigger wakes one host in turn, as a trigger through a host's HTTP API wakes that host's
///   runner (on PostgreSQL the store's notification wakes every host anyway). The span runs
///   from the first trigger to the last job's commit of `succeeded`. `before`: the hosts are
///   draining while the J triggers are made (so none claims anything), then all stop draining
///   at once; the span runs from then on. Either way triggers/s is J over the span from the
///   first trigger to the return of the last.
/// - A trigger is what `POST /api/v1/pipelines/{name}/jobs` does after authorization:
///   validating the pipeline, resolving its tasks and `submit` (duplicates allowed). All jobs are
///   of one pipeline unless `--pipelines N` spreads them over N (a submission locks its
///   pipeline, so submissions of one pipeline take turns).
/// - Every job must end `succeeded` with every task's attempt 1 (no task ran twice; 0 for `noop`
///   tasks, which make no attempt).
///
/// Prints one line of JSON: hosts, jobs, tasks, the spans, triggers/s, jobs/s, tasks/s, the
/// median and 99th percentile of one trigger's latency, how many jobs each host ran, and the
/// time spent in each store method (`store_seconds`, summed over every thread).
enum RunnerHostsBench {
    static func run(_ options: Options) {
        let kind = BenchStoreKind(options)
        let hostCount = Int(options.positive("--hosts", default: 1))
        let jobCount = Int(options.positive("--jobs", default: 200))
        let tasksPerJob = Int(options.positive("--tasks-per-job", default: 5))
        let parallelism = Int(options.positive("--parallelism", default: 8))
        let submitters = Int(options.positive("--submitters", default: 4))
        let pipelineCount = Int(options.positive("--pipelines", default: 1))
        let taskKind = options["--task"] ?? "true"
        guard taskKind == "true" || taskKind == "noop" else { fail("--task must be true or noop, not '\(taskKind)'", status: 2) }
        let submitBefore: Bool
        switch options["--submit"] ?? "during" {
        case "during": submitBefore = false
        case "before": submitBefore = true
        case let other: fail("--submit must be during or before, not '\(other)'", status: 2)
        }
        if kind == .sqlite && hostCount != 1 { fail("--store sqlite has one host: --hosts must be 1", status: 2) }

        let bench = BenchStore(kind, label: "hosts")
        defer { bench.remove() }

        // The jobs, made before anything is timed except their validation (below).
        let pipelines = (0..<pipelineCount).map { p in
            let name = pipelineCount == 1 ? "hosts" : "hosts\(p)"
            if taskKind == "noop" {
                return PipelineDefinition(
                    name: name, tasks: (0..<tasksPerJob).map { TaskDefinition(name: "n\($0)", run: [], needs: [], kind: .noop) })
            }
            return RunnerBench.processPipeline(tasks: tasksPerJob, name: name)
        }

        // What each host committed as terminal, by job id.
        struct Tally {
            var byHost: [Int: Int] = [:]
            var seen: Set<Int64> = []
            var notSucceeded: [Int64: JobState] = [:]
            var reportedTwice = 0
        }
        let tally = Locked(Tally())
        let allDone = DispatchSemaphore(value: 0)
        var runners: [Runner] = []
        for h in 0..<hostCount {
            let store = bench.open(poolSize: 2)
            let runner = Runner(
                store: store,
                configuration: bench.configuration(
                    host: "h\(h + 1)", parallelism: parallelism,
                    onJobChange: { id, state in
                        guard state.isTerminal else { return }
                        let finished = tally.withLock { t -> Bool in
                            if !t.seen.insert(id).inserted {
                                t.reportedTwice += 1
                                return false
                            }
                            t.byHost[h, default: 0] += 1
                            if state != .succeeded { t.notSucceeded[id] = state }
                            return t.seen.count == jobCount
                        }
                        if finished { allDone.signal() }
                    }))
            if submitBefore { runner.drain(true) }
            runner.start()
            runners.append(runner)
        }
        for runner in runners { bench.waitRegistered(runner) }
        let submitStore = kind == .sqlite ? bench.open() : bench.open(poolSize: submitters)
        let hosts = runners
        bench.times.reset()

        // The triggers: thread s makes jobs s, s + S, s + 2S, ... Threads of their own, not
        // DispatchQueue.concurrentPerform, which runs no more iterations at once than there are
        // cores, whereas a trigger mostly waits for its commit.
        let latencies = Locked<[Double]>([])
        let ids = Locked<[Int64]>([])
        let failure = Locked<String?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        for s in 0..<submitters {
            let thread = Thread {
                go.wait()
                defer { finished.signal() }
                var mine: [Double] = []
                var created: [Int64] = []
                var i = s
                while i < jobCount {
                    let before = monotonicSeconds()
                    let job = RunnerBench.newJob(pipelines[i % pipelineCount], workingDirectory: bench.directory)
                    do {
                        guard case .created(let record) = try submitStore.submit(job, rules: SubmissionRules()) else {
                            failure.withLock { $0 = "a trigger was not created" }
                            return
                        }
                        created.append(record.id)
                    } catch {
                        failure.withLock { $0 = "cannot submit: \(error)" }
                        return
                    }
                    mine.append(monotonicSeconds() - before)
                    if !submitBefore { hosts[i % hostCount].wake() }
                    i += submitters
                }
                latencies.withLock { $0 += mine }
                ids.withLock { $0 += created }
            }
            thread.name = "trigger-\(s)"
            thread.start()
        }
        let start = monotonicSeconds()
        for _ in 0..<submitters { go.signal() }
        for _ in 0..<submitters { finished.wait() }
        let submitted = monotonicSeconds()
        if let failure = failure.withLock({ $0 }) { fail(failure) }
        var runStart = start
        if submitBefore {
            runStart = monotonicSeconds()
            for runner in runners { runner.drain(false) }
        }
        guard allDone.wait(timeout: .now() + 600) == .success else {
            fail("not every job finished within 600 s: \(tally.withLock { $0.seen.count }) of \(jobCount)")
        }
        let end = monotonicSeconds()
        let storeTimes = bench.times.json()
        for runner in runners { runner.stop() }

        let result = tally.withLock { $0 }
        guard result.notSucceeded.isEmpty else { fail("jobs did not succeed: \(result.notSucceeded)") }
        guard result.reportedTwice == 0 else { fail("\(result.reportedTwice) jobs were committed as finished twice") }
        // No task ran twice (checked after the clock stopped). A noop task makes no attempt.
        let attempts = taskKind == "noop" ? 0 : 1
        for id in ids.withLock({ $0 }) {
            guard let job = try? submitStore.job(id: id) else { fail("cannot read job \(id)") }
            guard job.state == .succeeded, job.tasks.count == tasksPerJob, job.tasks.allSatisfy({ $0.attempt == attempts }) else {
                fail("job \(id) ended \(job.state.rawValue) with attempts \(job.tasks.map(\.attempt))")
            }
        }

        let submitSeconds = submitted - start
        let runSeconds = end - runStart
        let sorted = latencies.withLock { $0 }.sorted()
        let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        let byHost = (0..<hostCount).map { String(result.byHost[$0] ?? 0) }.joined(separator: ",")
        print(
            "{\"store\":\"\(kind.rawValue)\",\"hosts\":\(hostCount),\"jobs\":\(jobCount),\"tasks_per_job\":\(tasksPerJob),"
                + "\"tasks\":\(jobCount * tasksPerJob),\"task\":\"\(taskKind)\",\"parallelism\":\(parallelism),"
                + "\"submitters\":\(submitters),\"pipelines\":\(pipelineCount),\"submit\":\"\(submitBefore ? "before" : "during")\","
                + "\"submit_seconds\":\(submitSeconds),\"seconds\":\(runSeconds),"
                + "\"triggers_per_second\":\(Double(jobCount) / submitSeconds),\"jobs_per_second\":\(Double(jobCount) / runSeconds),"
                + "\"tasks_per_second\":\(Double(jobCount * tasksPerJob) / runSeconds),"
                + "\"trigger_p50_ms\":\(median(sorted) * 1000),\"trigger_p99_ms\":\(p99 * 1000),"
                + "\"jobs_by_host\":[\(byHost)],\"store_seconds\":\(storeTimes)}"
        )
    }
}
