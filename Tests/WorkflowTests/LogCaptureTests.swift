import Foundation
import Locking
import Synchronization
import TestSupport
import Testing

@testable import Workflow

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized, .timeLimit(.minutes(1))) struct LogCaptureTests {
    static let environment = ["PATH": "/usr/bin:/bin"]
    static let small = LogCapture.Limits(headBytes: 1000, tailBytes: 1000)

    /// What the log must hold for `output` under `limits`.
    static func capped(_ output: [UInt8], _ limits: LogCapture.Limits) -> [UInt8] {
        guard output.count > limits.headBytes + limits.tailBytes else { return output }
        let omitted = output.count - limits.headBytes - limits.tailBytes
        return Array(output.prefix(limits.headBytes)) + Array("\n[sluice: \(omitted) bytes omitted]\n".utf8)
            + Array(output.suffix(limits.tailBytes))
    }

    static func bytes(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? [] }

    static func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// Starts `/bin/sh -c script` in `dir` with its output piped.
    static func spawn(_ script: String, in dir: TemporaryDirectory) throws -> SpawnedTask {
        try TaskProcess.spawnPiped(argv: ["/bin/sh", "-c", script], environment: Self.environment, workingDirectory: dir.path)
    }

    /// Runs `script` to the end under `limits`; returns the outcome and the log's bytes.
    static func run(
        _ script: String, in dir: TemporaryDirectory, limits: LogCapture.Limits = .init(), withoutPidFD: Bool = false
    ) throws -> (outcome: TaskOutcome, log: [UInt8]) {
        var task = try Self.spawn(script, in: dir)
        defer { TaskProcess.signalGroup(task.pid, SIGKILL) }
        if withoutPidFD { task = Self.withoutPidFD(task) }
        let outcome = TaskProcess.supervise(task, logPath: dir.file("task.log"), limits: limits)
        return (outcome, Self.bytes(dir.file("task.log")))
    }

    /// `task` as if the kernel had no pidfd_open: exercises the waitpid(WNOHANG) fallback.
    static func withoutPidFD(_ task: SpawnedTask) -> SpawnedTask {
        if task.pidFD >= 0 { close(task.pidFD) }
        return SpawnedTask(pid: task.pid, outputFD: task.outputFD, pidFD: -1)
    }

    /// Numbered lines "1\n" … "count\n", as `seq 1 count` prints them.
    static func numberedLines(_ count: Int) -> [UInt8] { Array((1...count).map { "\($0)\n" }.joined().utf8) }

    /// Every byte value, ANSI escapes, NULs, invalid UTF-8 (lone continuation byte, overlong
    /// encoding, truncated sequence, surrogate), CR without LF, and no final newline.
    static let hostile: [UInt8] =
        Array(0...255) + Array("\u{1B}[31mred\u{1B}[0m\u{1B}]0;title\u{07}\r".utf8) + [
            0, 0, 0x80, 0xC0, 0xAF, 0xE2, 0x82, 0xED, 0xA0, 0x80,
        ]
        + Array("ü 🚀".utf8) + [0xF0, 0x9F]

    @Test("The default limits are 1 MiB of head and 1 MiB of tail")
    func defaultLimits() {
        #expect(LogCapture.Limits() == LogCapture.Limits(headBytes: 1 << 20, tailBytes: 1 << 20))
        #expect(LogCapture.Limits(headBytes: -5, tailBytes: -1) == LogCapture.Limits(headBytes: 0, tailBytes: 0))
    }

    @Test("Output within the limits replaces an old log and is stored byte for byte")
    func smallOutputUnchanged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = Self.hostile + Self.hostile.reversed() + Self.hostile
        try Self.write(input, to: dir.file("input"))
        try Self.write(Array(repeating: UInt8(ascii: "x"), count: 10_000), to: dir.file("task.log"))
        let (outcome, log) = try Self.run("cat input", in: dir)
        #expect(outcome == TaskOutcome(exitCode: 0, bytesWritten: Int64(input.count), bytesOmitted: 0))
        #expect(log == input)
    }

    @Test("Hostile output (NUL, ANSI escapes, invalid UTF-8) on stdout and stderr is stored byte for byte in a new 0640 log")
    func hostileOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // dash's printf turns \ooo into that byte; %s passes its argument through unchanged.
        let script = #"printf 'a\000b\033[2J\033[31m\377\376\300\200'; printf '\355\240\200%s' "$1" >&2"#
        let task = try TaskProcess.spawnPiped(
            argv: ["/bin/sh", "-c", script, "sh", "é\u{1B}c"], environment: Self.environment, workingDirectory: dir.path)
        let outcome = TaskProcess.supervise(task, logPath: dir.file("task.log"), limits: Self.small)
        let expected: [UInt8] =
            [0x61, 0, 0x62] + Array("\u{1B}[2J\u{1B}[31m".utf8) + [0xFF, 0xFE, 0xC0, 0x80, 0xED, 0xA0, 0x80] + Array("é\u{1B}c".utf8)
        #expect(Self.bytes(dir.file("task.log")) == expected)
        #expect(outcome == TaskOutcome(exitCode: 0, bytesWritten: Int64(expected.count), bytesOmitted: 0))
        // A new log is created 0640 (less the umask).
        let info = try FileManager.default.attributesOfItem(atPath: dir.file("task.log"))
        let mask = umask(0o022)
        umask(mask)
        #expect((info[.posixPermissions] as? NSNumber)?.intValue == 0o640 & ~Int(mask))
    }

    @Test("stdout and stderr share the log, in the order they were written")
    func stderrCaptured() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (outcome, log) = try Self.run("echo out; echo err >&2; echo out2; printf 'last' >&2", in: dir)
        #expect(log == Array("out\nerr\nout2\nlast".utf8))
        #expect(outcome.bytesWritten == 17)
    }

    @Test("A task that writes nothing leaves an empty log")
    func emptyOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.write(Array("old log".utf8), to: dir.file("task.log"))
        let (outcome, log) = try Self.run("true", in: dir, limits: Self.small)
        #expect(outcome == TaskOutcome(exitCode: 0, bytesWritten: 0, bytesOmitted: 0))
        #expect(FileManager.default.fileExists(atPath: dir.file("task.log")))
        #expect(log.isEmpty)
    }

    @Test(
        "Exit codes: the status, or 128 + signal when killed",
        arguments: [("exit 0", Int32(0)), ("echo x; exit 3", 3), ("kill -KILL $$", 137), ("kill -TERM $$", 143)])
    func exitCodes(script: String, code: Int32) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(try Self.run(script, in: dir).outcome.exitCode == code)
        #expect(try Self.run(script, in: dir, withoutPidFD: true).outcome.exitCode == code)
    }

    @Test("Numbered lines beyond the limits leave exactly head, marker and tail", arguments: [false, true])
    func numberedLinesCapped(withoutPidFD: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (outcome, log) = try Self.run("seq 1 200000; exit 3", in: dir, limits: Self.small, withoutPidFD: withoutPidFD)
        let output = Self.numberedLines(200_000)
        #expect(outcome == TaskOutcome(exitCode: 3, bytesWritten: Int64(output.count), bytesOmitted: Int64(output.count - 2000)))
        #expect(log == Self.capped(output, Self.small))
        let text = String(decoding: log, as: UTF8.self)
        #expect(text.hasPrefix("1\n2\n3\n"))
        #expect(text.hasSuffix("199999\n200000\n"))
        #expect(text.contains("\n[sluice: \(output.count - 2000) bytes omitted]\n"))
    }

    @Test(
        "Megabytes of random output keep exactly head, marker and tail",
        arguments: [LogCaptureTests.small, .init(headBytes: 100_000, tailBytes: 300_000), .init(headBytes: 0, tailBytes: 70_000)])
    func randomOutputCapped(limits: LogCapture.Limits) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // tee keeps the task's own copy of everything it printed, to compare against.
        let (outcome, log) = try Self.run("head -c 5000000 /dev/urandom | base64 | tee full.txt", in: dir, limits: limits)
        let output = Self.bytes(dir.file("full.txt"))
        #expect(output.count > 6_000_000)
        let omitted = output.count - limits.headBytes - limits.tailBytes
        #expect(outcome == TaskOutcome(exitCode: 0, bytesWritten: Int64(output.count), bytesOmitted: Int64(omitted)))
        #expect(log.count == limits.headBytes + "\n[sluice: \(omitted) bytes omitted]\n".utf8.count + limits.tailBytes)
        #expect(log == Self.capped(output, limits))
    }

    @Test(
        "Around the cap: complete up to head + tail bytes, a marker from one byte more",
        arguments: [
            (1999, 1000, 1000), (2000, 1000, 1000), (2001, 1000, 1000), (70_000, 65_536, 4464), (70_001, 65_536, 4464),
            (200_000, 0, 0), (200_000, 0, 10), (200_000, 10, 0), (200_000, 1, 131_073), (0, 0, 0),
        ])
    func aroundTheCap(size: Int, head: Int, tail: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
        try Self.write(input, to: dir.file("input"))
        let limits = LogCapture.Limits(headBytes: head, tailBytes: tail)
        let (outcome, log) = try Self.run("cat input", in: dir, limits: limits)
        #expect(log == Self.capped(input, limits))
        #expect(outcome.bytesWritten == Int64(size))
        #expect(outcome.bytesOmitted == Int64(max(0, size - head - tail)))
        #expect(log.count == size || log.count > head + tail)
    }

    @Test("A background child holding the pipe open does not keep supervise waiting", arguments: [false, true])
    func backgroundChildHoldsPipe(withoutPidFD: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let start = ContinuousClock.now
        let (outcome, log) = try Self.run("sleep 60 & echo started; exit 5", in: dir, withoutPidFD: withoutPidFD)
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(outcome.exitCode == 5)
        #expect(log == Array("started\n".utf8))
    }

    @Test(
        "A setsid'd grandchild outside the process group cannot keep supervise waiting",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid")))
    func setsidGrandchild() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let start = ContinuousClock.now
        // Its own session and group: killing the task's group misses it. setsid execs sleep in
        // place (it is not a group leader), so $! is the sleep's pid.
        let (outcome, log) = try Self.run("setsid sleep 60 & echo $!", in: dir)
        let escaped = Int32(String(decoding: log, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        if let escaped, escaped > 1 { kill(escaped, SIGKILL) }
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(outcome.exitCode == 0)
        #expect(escaped != nil)
    }

    @Test("Output a background child writes shortly after the leader exits is still captured")
    func lateOutputDrained() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (outcome, log) = try Self.run("(sleep 0.3; echo late) & echo early", in: dir)
        #expect(log == Array("early\nlate\n".utf8))
        #expect(outcome == TaskOutcome(exitCode: 0, bytesWritten: 11, bytesOmitted: 0))
    }

    @Test("A task that closes its output early is still waited for", arguments: [false, true])
    func outputClosedEarly(withoutPidFD: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let start = ContinuousClock.now
        let (outcome, log) = try Self.run("echo bye; exec >&- 2>&-; sleep 0.5; exit 4", in: dir, withoutPidFD: withoutPidFD)
        #expect(ContinuousClock.now - start >= .seconds(0.5))
        #expect(outcome == TaskOutcome(exitCode: 4, bytesWritten: 4, bytesOmitted: 0))
        #expect(log == Array("bye\n".utf8))
    }

    @Test("While the task runs, the log shows head, marker and recent tail")
    func liveLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let task = try Self.spawn("seq 1 50000; sleep 30", in: dir)
        defer { TaskProcess.signalGroup(task.pid, SIGKILL) }
        let result = Locked<TaskOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        let path = dir.file("task.log")
        Thread.detachNewThread {
            let outcome = TaskProcess.supervise(task, logPath: path, limits: Self.small)
            result.withLock { $0 = outcome }
            done.signal()
        }
        let expected = Self.capped(Self.numberedLines(50_000), Self.small)
        #expect(
            Poll.blockingUntil(within: .seconds(10)) { Self.bytes(path) == expected },
            "\(String(decoding: Self.bytes(path), as: UTF8.self))")
        #expect(result.withLock { $0 } == nil)
        TaskProcess.signalGroup(task.pid, SIGKILL)
        #expect(done.wait(timeout: .now() + 10) == .success)
        let size = Int64(Self.numberedLines(50_000).count)
        #expect(result.withLock { $0 } == TaskOutcome(exitCode: 137, bytesWritten: size, bytesOmitted: size - 2000))
        #expect(Self.bytes(path) == expected)
    }

    @Test("The child's stdin is /dev/null, stdout and stderr one pipe, and nothing else is inherited")
    func childDescriptors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let task = try TaskProcess.spawnPiped(
            argv: ["/bin/ls", "-l", "/proc/self/fd/"], environment: Self.environment, workingDirectory: dir.path)
        #expect(task.pid > 1)
        #expect(task.outputFD >= 3)
        #expect(task.pidFD >= 3)
        #expect(fcntl(task.outputFD, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(task.pidFD, F_GETFD) & FD_CLOEXEC != 0)
        let outcome = TaskProcess.supervise(task, logPath: dir.file("task.log"))
        #expect(outcome.exitCode == 0)
        let output = String(decoding: Self.bytes(dir.file("task.log")), as: UTF8.self)
        var descriptors: [Int: String] = [:]
        for line in output.split(separator: "\n") where line.contains(" -> ") {
            let parts = line.components(separatedBy: " -> ")
            if let number = parts[0].split(separator: " ").last.flatMap({ Int($0) }) { descriptors[number] = parts[1] }
        }
        #expect(descriptors[0] == "/dev/null")
        #expect(descriptors[1]?.hasPrefix("pipe:") == true, "\(output)")
        #expect(descriptors[2] == descriptors[1])
        let others = descriptors.filter { $0.key > 2 }
        #expect(others.count <= 1, "\(output)")
        #expect(others.values.allSatisfy { $0.hasPrefix("/proc/") }, "\(output)")
    }

    @Test("spawnPiped reports the same start failures as spawn")
    func spawnFailures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: ["sluice-no-such-program"], environment: Self.environment, workingDirectory: dir.path)
        }
        #expect(error?.reason.contains("sluice-no-such-program") == true)
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: [], environment: Self.environment, workingDirectory: dir.path)
        }
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawnPiped(argv: ["/bin/true"], environment: Self.environment, workingDirectory: dir.file("missing"))
        }
    }

    @Test("An unwritable log path still drains, reaps and counts the output")
    func unwritableLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let task = try Self.spawn("seq 1 100000; exit 2", in: dir)
        let outcome = TaskProcess.supervise(task, logPath: dir.file("missing/task.log"), limits: Self.small)
        let size = Int64(Self.numberedLines(100_000).count)
        #expect(outcome == TaskOutcome(exitCode: 2, bytesWritten: size, bytesOmitted: size - 2000))
    }

    @Test("The tail ring keeps exactly the last bytes, for any sequence of chunk sizes", arguments: [0, 1, 7, 64, 1000])
    func tailBuffer(capacity: Int) {
        var generator = SystemRandomNumberGenerator()
        var ring = TailBuffer(capacity: capacity)
        var all: [UInt8] = []
        for _ in 0..<300 {
            let chunk = (0..<Int.random(in: 0...(capacity * 2 + 3), using: &generator)).map { _ in UInt8.random(in: 0...255) }
            chunk.withUnsafeBytes { ring.append($0) }
            all += chunk
            let kept = ring.withContents { Array($0) + Array($1) }
            #expect(kept == Array(all.suffix(capacity)))
            #expect(ring.count == min(capacity, all.count))
        }
    }
}
