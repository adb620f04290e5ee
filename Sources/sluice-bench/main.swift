/// sluice-bench: micro-benchmarks of Sluice's own targets, driven by `scripts/bench`, which runs
/// the reference measurements (such as `openssl speed`) interleaved with these and prints the
/// comparison table. Each subcommand prints progress on standard error and one machine-readable
/// line per measured primitive on standard output:
///
///     <NAME> <median per second> <run1,run2,...>
///
/// Subcommands:
///
///     sluice-bench crypto --keys DIR [--seconds S] [--runs N] [--only ES256|RS256] [--clock user|wall]
///
/// The runner benchmarks (`runner-dag`, `runner-procs`, `runner-adopt`, `runner-hosts`) print one
/// line of JSON each instead (RunnerBench.swift, RunnerHostsBench.swift).
///
/// New benchmarks (`runner`, `http`, …) get their own file and a case below.

#if canImport(Glibc)
    import Glibc
#endif

/// The usage text, printed for `--help` and on a usage error.
let usage = """
    usage: sluice-bench crypto --keys DIR [--seconds S] [--runs N] [--only ES256|RS256] [--clock user|wall]
           sluice-bench runner-dag --tasks N [--store sqlite|postgres]
           sluice-bench runner-procs --tasks N --parallelism P [--store sqlite|postgres]
           sluice-bench runner-adopt --tasks N
           sluice-bench runner-hosts --hosts K --jobs J --tasks-per-job T [--store sqlite|postgres]
                        [--parallelism P] [--submitters S] [--task true|noop] [--pipelines N]
                        [--submit during|before]
           sluice-bench store-submit [--threads T] [--triggers N] [--batch B]

      crypto   PublicKey.verify throughput for ES256 and RS256 with keys and signatures made by the
               openssl tool (scripts/bench writes them to DIR; see CryptoBench.swift for the files).
               --seconds S  length of one run (default 2)
               --runs N     number of runs; the median is reported (default 5)
               --only ALG   measure only ES256 or only RS256 (default both)
               --clock C    user: divide by user CPU time, like `openssl speed` (default);
                            wall: divide by elapsed time, like `openssl speed -elapsed`
      runner-dag    one job of N noop tasks in a layered DAG (width 10, two needs each) through the
                    runner and a durable store; prints one JSON line (see RunnerBench.swift)
      runner-procs  one job of N independent /bin/true tasks at parallelism P; one JSON line
                    --store S  sqlite (default: a fresh file in $TMPDIR) or postgres (a fresh schema
                               in SLUICE_BENCH_POSTGRES_URL, password SLUICE_BENCH_POSTGRES_PASSWORD;
                               the runner is a host with a lease)
      runner-adopt  N running tasks left by a stopped runner, re-adopted by a new one: the seconds
                    until all N are watched again; one JSON line
      runner-hosts  K runners as hosts of one store (sqlite: K = 1) and J jobs of T independent
                    tasks triggered from S threads (default 4) while the hosts run (--submit
                    before: while they drain); triggers/s, jobs/s, tasks/s, jobs per host; one
                    JSON line (see RunnerHostsBench.swift). Defaults: J 200, T 5, P 8 per host,
                    --task true (/bin/true under a supervisor; noop starts no process)
      store-submit  N durable triggers (default 2000) into SQLiteJobStore.submit from T threads
                    (default 16), up to B per group commit (default 64; 1 = a commit each);
                    one JSON line (see SubmitBench.swift)
    """

// The runner logs every job at info level; a benchmark wants only warnings on its stderr.
setenv("SLUICE_LOG_LEVEL", "warning", 0)
var arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.isEmpty ? "" : arguments.removeFirst()
switch command {
case "crypto":
    CryptoBench.run(Options(arguments, valued: ["--keys", "--seconds", "--runs", "--only", "--clock"]))
case "runner-dag":
    RunnerBench.dag(Options(arguments, valued: ["--tasks", "--store"]))
case "runner-procs":
    RunnerBench.processes(Options(arguments, valued: ["--tasks", "--parallelism", "--store"]))
case "runner-hosts":
    RunnerHostsBench.run(
        Options(
            arguments,
            valued: [
                "--hosts", "--jobs", "--tasks-per-job", "--store", "--parallelism", "--submitters", "--task", "--pipelines", "--submit",
            ]))
case "runner-adopt":
    RunnerBench.adopt(Options(arguments, valued: ["--tasks"]))
case "store-submit":
    SubmitBench.run(Options(arguments, valued: ["--threads", "--triggers", "--batch"]))
case "-h", "--help", "help":
    print(usage)
default:
    fail(command.isEmpty ? "no benchmark given\n\(usage)" : "unknown benchmark '\(command)'\n\(usage)", status: 2)
}
