import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The status file: what it says about a task's end, its exact format, and how it is written.
@Suite("Outcome and status file", .timeLimit(.minutes(1)))
struct OutcomeTests {
    static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    @Test("A task that exits 0: exactly version, run_key, task_pid, the times, exit_status and the log counts, in order")
    func exitZero() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("echo $$; sleep 0.2", in: dir)
        invocation.runKey = "9f1c2a3b4c5d6e7f/42/extract with space/1"
        let before = Self.nowMilliseconds()
        let result = try Supervisor.run(invocation)
        let after = Self.nowMilliseconds()
        #expect(result.exit.code == 0, "\(result.exit)")
        #expect(result.exit.stderr.isEmpty)
        let status = try result.requireStatus()
        let pid = try #require(Int32(result.logText.trimmingCharacters(in: .whitespacesAndNewlines)), "\(result.logText)")
        let started = try #require(status.int("started_at_ms"))
        let finished = try #require(status.int("finished_at_ms"))
        #expect(pid > 1)
        #expect(before <= started && started <= finished && finished <= after, "\(before) \(started) \(finished) \(after)")
        #expect(finished - started >= 200, "the task slept 0.2 s")
        #expect(
            status.text == """
                version=1
                run_key=9f1c2a3b4c5d6e7f/42/extract with space/1
                task_pid=\(pid)
                started_at_ms=\(started)
                finished_at_ms=\(finished)
                exit_status=0
                log_bytes=\(result.log.count)
                log_omitted=0

                """)
        // The task is gone, and so is its group.
        #expect(ProcessTable.isGone(pid))
        #expect(ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty)
    }

    @Test(
        "Exit status or signal: exactly one of exit_status and exit_signal",
        arguments: [
            ("exit 0", Int64?.some(0), Int64?.none), ("echo x; exit 3", 3, nil), ("exit 255", 255, nil), ("kill -KILL $$", nil, 9),
            ("kill -TERM $$", nil, 15), ("kill -USR1 $$", nil, 10),
        ])
    func exitStatuses(script: String, exitStatus: Int64?, exitSignal: Int64?) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try Supervisor.run(.shell(script, in: dir))
        #expect(result.exit.code == 0, "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status.int("exit_status") == exitStatus, "\(status.text)")
        #expect(status.int("exit_signal") == exitSignal, "\(status.text)")
        #expect(status["timed_out"] == nil)
        #expect(status["stop_signal"] == nil)
        #expect(status["spawn_error"] == nil)
    }

    @Test("Log and status file are created 0640 less the umask", arguments: [mode_t(0), 0o022, 0o027, 0o077, 0o002])
    func fileModes(mask: mode_t) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation(dir, program: "/bin/echo", argv: ["echo", "secret"])
        // The supervisor inherits the umask of the thread that spawns it; PrivateUmask gives that
        // thread its own, leaving the other tests' alone.
        let exit = try PrivateUmask.run(mask) {
            try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath).wait()
        }
        let result = Supervisor.Result(exit: exit, invocation: invocation, sourceLocation: #_sourceLocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        #expect(result.logText == "secret\n")
        #expect(Files.mode(invocation.logPath) == 0o640 & ~mask)
        #expect(Files.mode(invocation.statusPath) == 0o640 & ~mask)
        // Whatever the umask, no other user may read what a task printed.
        #expect((Files.mode(invocation.logPath) ?? 0o777) & 0o007 == 0)
    }

    @Test("An old status file and a stale .tmp are replaced; an old log is truncated")
    func replacesOldFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("printf new", in: dir)
        try Files.write(Array(String(repeating: "old status\n", count: 100).utf8), to: invocation.statusPath)
        try Files.write(Array(String(repeating: "stale\n", count: 100).utf8), to: invocation.statusPath + ".tmp")
        try Files.write(Array(String(repeating: "old log\n", count: 1000).utf8), to: invocation.logPath)
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "0")
        #expect(status["log_bytes"] == "3")
        #expect(result.logText == "new")
    }

    @Test("A status file that cannot be written: exit 70 with one line on stderr, after the task ran")
    func statusNotWritable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("echo ran", in: dir)
        invocation.statusPath = dir.file("missing/status")
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 70, "\(result.exit)")
        #expect(result.status == nil)
        #expect(result.logText == "ran\n")
        let lines = result.exit.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "one line: \(result.exit.stderr)")
        #expect(
            result.exit.stderr.hasPrefix("sluice-supervisor: cannot write status file \(invocation.statusPath): "), "\(result.exit.stderr)")
        #expect(result.exit.stderr.hasSuffix(": open: No such file or directory (errno 2)\n"), "\(result.exit.stderr)")
    }
}
