import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The head + tail capped log (ported from WorkflowTests/LogCaptureTests, which tested the Swift
/// capture the supervisor replaces).
@Suite("Log capture", .timeLimit(.minutes(1)))
struct LogCaptureTests {
    /// Runs `script` under head and tail, with `oldLog` in the log's place beforehand if given.
    private static func run(
        _ script: String, in dir: TemporaryDirectory, head: Int = 1000, tail: Int = 1000, oldLog: [UInt8]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (status: StatusRecord, log: [UInt8]) {
        var invocation = Invocation.shell(script, in: dir)
        invocation.head = head
        invocation.tail = tail
        if let oldLog { try Files.write(oldLog, to: invocation.logPath) }
        let result = try Supervisor.run(invocation, sourceLocation: sourceLocation)
        #expect(result.exit.code == 0, "\(result.exit)", sourceLocation: sourceLocation)
        return (try result.requireStatus(sourceLocation: sourceLocation), result.log)
    }

    @Test("Output within the limits replaces an old log and is stored byte for byte")
    func smallOutputUnchanged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = Logs.hostile + Logs.hostile.reversed() + Logs.hostile
        try Files.write(input, to: dir.file("input"))
        let (status, log) = try Self.run(
            "cat input", in: dir, head: 1 << 20, tail: 1 << 20, oldLog: Array(repeating: UInt8(ascii: "x"), count: 10_000))
        #expect(log == input)
        #expect(status.int("log_bytes") == Int64(input.count))
        #expect(status["log_omitted"] == "0")
        #expect(status["exit_status"] == "0")
    }

    @Test("Hostile output (NUL, ANSI escapes, invalid UTF-8) on stdout and stderr is stored byte for byte")
    func hostileOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // dash's printf turns \ooo into that byte; %s passes its argument through unchanged.
        let script = #"printf 'a\000b\033[2J\033[31m\377\376\300\200'; printf '\355\240\200%s' "$1" >&2"#
        let result = try Supervisor.run(.shell(script, in: dir, extra: ["sh", "é\u{1B}c"]))
        let expected: [UInt8] =
            [0x61, 0, 0x62] + Array("\u{1B}[2J\u{1B}[31m".utf8) + [0xFF, 0xFE, 0xC0, 0x80, 0xED, 0xA0, 0x80] + Array("é\u{1B}c".utf8)
        #expect(result.log == expected)
        let status = try result.requireStatus()
        #expect(status.int("log_bytes") == Int64(expected.count))
        #expect(status["log_omitted"] == "0")
    }

    @Test("stdout and stderr share the log, in the order they were written")
    func stderrCaptured() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (status, log) = try Self.run("echo out; echo err >&2; echo out2; printf 'last' >&2", in: dir)
        #expect(log == Array("out\nerr\nout2\nlast".utf8))
        #expect(status["log_bytes"] == "17")
    }

    @Test("A task that writes nothing leaves an empty log, replacing an old one")
    func emptyOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (status, log) = try Self.run("true", in: dir, oldLog: Array("old log".utf8))
        #expect(Files.exists(dir.file("job/task.log")))
        #expect(log.isEmpty)
        #expect(status["log_bytes"] == "0")
        #expect(status["log_omitted"] == "0")
    }

    @Test("Numbered lines beyond the limits leave exactly head, marker and tail")
    func numberedLinesCapped() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (status, log) = try Self.run("seq 1 200000; exit 3", in: dir)
        let output = Logs.numberedLines(200_000)
        #expect(status["exit_status"] == "3")
        #expect(status.int("log_bytes") == Int64(output.count))
        #expect(status.int("log_omitted") == Int64(output.count - 2000))
        #expect(log == Logs.capped(output, head: 1000, tail: 1000))
        let text = String(decoding: log, as: UTF8.self)
        #expect(text.hasPrefix("1\n2\n3\n"))
        #expect(text.hasSuffix("199999\n200000\n"))
        #expect(text.contains("\n[sluice: \(output.count - 2000) bytes omitted]\n"))
    }

    @Test(
        "Megabytes of random output keep exactly head, marker and tail",
        arguments: [(1000, 1000), (100_000, 300_000), (0, 70_000), (70_000, 0)])
    func randomOutputCapped(head: Int, tail: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // tee keeps the task's own copy of everything it printed, to compare against.
        let (status, log) = try Self.run("head -c 5000000 /dev/urandom | base64 | tee full.txt", in: dir, head: head, tail: tail)
        let output = Files.bytes(dir.file("full.txt"))
        #expect(output.count > 6_000_000)
        let omitted = output.count - head - tail
        #expect(status.int("log_bytes") == Int64(output.count))
        #expect(status.int("log_omitted") == Int64(omitted))
        #expect(log.count == head + "\n[sluice: \(omitted) bytes omitted]\n".utf8.count + tail)
        #expect(log == Logs.capped(output, head: head, tail: tail))
    }

    @Test(
        "Around the cap: complete up to head + tail bytes, a marker from one byte more",
        arguments: [
            (1999, 1000, 1000), (2000, 1000, 1000), (2001, 1000, 1000), (70_000, 65_536, 4464), (70_001, 65_536, 4464),
            (200_000, 0, 0), (200_000, 0, 10), (200_000, 10, 0), (200_000, 1, 131_073), (0, 0, 0), (5, 0, 0), (5, 0, 5), (5, 5, 0),
        ])
    func aroundTheCap(size: Int, head: Int, tail: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
        try Files.write(input, to: dir.file("input"))
        let (status, log) = try Self.run("cat input", in: dir, head: head, tail: tail)
        #expect(log == Logs.capped(input, head: head, tail: tail))
        #expect(status.int("log_bytes") == Int64(size))
        #expect(status.int("log_omitted") == Int64(max(0, size - head - tail)))
        #expect(log.count == size || log.count > head + tail)
    }

    @Test("The tail ring keeps exactly the last bytes, for output arriving in chunks of any size", arguments: [1, 7, 64, 1000, 65_537])
    func chunkedOutput(tail: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var generator = SystemRandomNumberGenerator()
        let sizes = (0..<150).map { _ in Int.random(in: 0...(tail * 2 + 3), using: &generator) }
        // Each `head -c` is a separate write (often a separate read for the supervisor), and the
        // sleeps between some of them make the reads land on those boundaries.
        let script = sizes.enumerated().map { "head -c \($1) /dev/urandom\($0 % 10 == 0 ? "; sleep 0.001" : "")" }.joined(separator: "; ")
        let (status, log) = try Self.run("{ \(script); } | tee full.bin", in: dir, head: 100, tail: tail)
        let output = Files.bytes(dir.file("full.bin"))
        #expect(output.count == sizes.reduce(0, +))
        #expect(status.int("log_bytes") == Int64(output.count))
        #expect(log == Logs.capped(output, head: 100, tail: tail))
    }

    @Test("Output a setsid'd grandchild writes shortly after the leader exits is still captured")
    func lateOutputDrained() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The leader's group is killed when it exits, so only a process outside it can still
        // write; the leader waits until the grandchild has left (it leads its own session).
        let script = """
            setsid sh -c 'sleep 0.3; echo late' &
            while [ "$(cut -d' ' -f6 /proc/$!/stat)" != "$!" ]; do sleep 0.01; done
            echo early
            """
        let (status, log) = try Self.run(script, in: dir)
        #expect(log == Array("early\nlate\n".utf8))
        #expect(status["log_bytes"] == "11")
        #expect(status["exit_status"] == "0")
    }

    @Test("A task that closes its output early is still waited for")
    func outputClosedEarly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let start = ContinuousClock.now
        let (status, log) = try Self.run("echo bye; exec >&- 2>&-; sleep 0.5; exit 4", in: dir)
        #expect(ContinuousClock.now - start >= .seconds(0.5))
        #expect(status["exit_status"] == "4")
        #expect(status["log_bytes"] == "4")
        #expect(log == Array("bye\n".utf8))
    }

    @Test("While the task runs, the log shows head, marker and recent tail within about two seconds")
    func liveLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("seq 1 50000; sleep 30", in: dir)
        let running = try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath)
        defer {
            running.signal(SIGKILL)
            _ = running.wait()
        }
        let expected = Logs.capped(Logs.numberedLines(50_000), head: 1000, tail: 1000)
        let start = ContinuousClock.now
        #expect(
            Poll.blockingUntil(within: .seconds(10)) { Files.bytes(invocation.logPath) == expected },
            "\(Files.text(invocation.logPath).suffix(200))")
        // One rewrite interval (1 s) after the start at most, plus the time seq takes (and some
        // slack for a loaded machine).
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(!running.hasExited)
        #expect(!Files.exists(invocation.journalPath))

        // End the task from outside: its leader killed by SIGKILL.
        let task = try #require(ProcessTable.allProcessIDs().first { ProcessTable.status(of: $0)?.parent == running.pid })
        kill(-task, SIGKILL)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        let status = try result.requireStatus()
        let size = Int64(Logs.numberedLines(50_000).count)
        #expect(status.int("task_pid") == Int64(task))
        #expect(status["exit_signal"] == "9")
        #expect(status["stop_signal"] == nil)
        #expect(status.int("log_bytes") == size)
        #expect(status.int("log_omitted") == size - 2000)
        #expect(result.log == expected)
    }

    @Test("An unwritable log path still drains, reaps and counts the output, and says why in log_failure")
    func unwritableLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("seq 1 100000; exit 2", in: dir)
        invocation.logPath = dir.file("missing/task.log")
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        let size = Int64(Logs.numberedLines(100_000).count)
        #expect(status["exit_status"] == "2")
        #expect(status.int("log_bytes") == size)
        #expect(status.int("log_omitted") == size - 2000)
        #expect(status["log_failure"] == "open: No such file or directory (errno 2)")
    }
}
