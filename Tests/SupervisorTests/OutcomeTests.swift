import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The status record: what it says about a task's end, and its exact format. (How it is appended
/// to the journal: JournalTests.)
@Suite("Outcome and status record", .timeLimit(.minutes(1)))
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

    @Test("Log and journal are created 0640 less the umask", arguments: [mode_t(0), 0o022, 0o027, 0o077, 0o002])
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
        #expect(Files.mode(invocation.journalPath) == 0o640 & ~mask)
        // Whatever the umask, no other user may read what a task printed.
        #expect((Files.mode(invocation.logPath) ?? 0o777) & 0o007 == 0)
    }

    @Test("An existing journal is appended to, its bytes left as they were; an old log is truncated")
    func appendsToJournal() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("printf new", in: dir)
        invocation.runKey = "9f1c2a3b4c5d6e7f/42/extract/2"
        let old = Array(
            """

            version=1
            run_key=9f1c2a3b4c5d6e7f/42/extract/1
            task_pid=4242
            started_at_ms=1796300000123
            finished_at_ms=1796300004567
            exit_status=1
            log_bytes=7
            log_omitted=0
            end

            """.utf8)
        try Files.write(old, to: invocation.journalPath)
        try Files.write(Array(String(repeating: "old log\n", count: 1000).utf8), to: invocation.logPath)
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "0")
        #expect(status["log_bytes"] == "3")
        #expect(result.logText == "new")
        let journal = try #require(result.journal)
        let appended = journal.bytes == old + Array("\n\(status.text)end\n".utf8)
        #expect(appended, "not the old bytes and the framed record: \(journal.text)")
        #expect(journal.records.map { $0["run_key"] } == ["9f1c2a3b4c5d6e7f/42/extract/1", invocation.runKey])
        #expect(journal.records.first?["exit_status"] == "1")
    }
}
