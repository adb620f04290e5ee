#if canImport(Glibc)
    import Glibc
#endif

/// Prints `message` to standard error and exits with `status` (1: the benchmark failed, 2: usage).
func fail(_ message: String, status: Int32 = 1) -> Never {
    note("sluice-bench: \(message)")
    exit(status)
}

/// Prints a progress line to standard error, so standard output stays machine-readable.
func note(_ message: String) {
    var line = message + "\n"
    // write(2) rather than fputs(stderr): Swift 6 rejects the global `stderr` as shared mutable state.
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// `--name value` command-line options; every option takes exactly one value.
struct Options {
    private var values: [String: String] = [:]

    /// Parses `arguments`, accepting only the option names in `valued`; exits on anything else.
    init(_ arguments: [String], valued: Set<String>) {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard valued.contains(name) else { fail("unknown option '\(name)'\n\(usage)", status: 2) }
            guard let value = rest.popFirst() else { fail("\(name) needs a value", status: 2) }
            values[name] = value
        }
    }

    /// The value of `name`, if given.
    subscript(name: String) -> String? { values[name] }

    /// The value of `name` as a positive number, or `fallback` when it is absent.
    func positive(_ name: String, default fallback: Double) -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value > 0, value.isFinite else {
            fail("\(name) must be a positive number, not '\(text)'", status: 2)
        }
        return value
    }
}

/// What a run's count of operations is divided by.
enum BenchClock: String {
    /// User CPU time of this process, which is what `openssl speed` divides by unless given
    /// `-elapsed`: it mostly hides time spent waiting for a core on a loaded machine.
    case user
    /// Elapsed (monotonic) time, like `openssl speed -elapsed`.
    case wall
}

/// One timed run: how many operations completed, and the time they took on both clocks.
struct Run {
    var operations: Int
    var wallSeconds: Double
    var userSeconds: Double
    var systemSeconds: Double

    /// Operations per second on `clock`.
    func rate(_ clock: BenchClock) -> Double {
        Double(operations) / (clock == .user ? userSeconds : wallSeconds)
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// User and system CPU seconds used by this process so far.
func cpuSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Calls `operation` repeatedly, single-threaded, until `seconds` of elapsed time have passed
/// (like `openssl speed`, whose alarm is wall-clock too), and returns the count and times.
/// The monotonic clock is read after every call; that costs tens of nanoseconds against the
/// tens of microseconds of one signature verification.
func timeRun(seconds: Double, _ operation: () -> Void) -> Run {
    let cpuStart = cpuSeconds()
    let start = monotonicSeconds()
    let deadline = start + seconds
    var operations = 0
    var now = start
    repeat {
        operation()
        operations += 1
        now = monotonicSeconds()
    } while now < deadline
    let cpuEnd = cpuSeconds()
    return Run(
        operations: operations, wallSeconds: now - start,
        userSeconds: cpuEnd.user - cpuStart.user, systemSeconds: cpuEnd.system - cpuStart.system)
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// A rate rounded to a whole number, as printed in the results.
func whole(_ value: Double) -> String { String(Int(value.rounded())) }

/// The whole contents of the file at `path`; exits if it cannot be read.
func readFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        bytes += chunk[..<count]
        if count < chunk.count { break }
    }
    guard ferror(file) == 0 else { fail("cannot read \(path)") }
    return bytes
}
