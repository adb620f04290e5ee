import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Timeouts, stop signals, the supervisor's death, and children the task leaves behind.
@Suite("Stopping the task", .timeLimit(.minutes(1)))
struct StopTests {
    /// The value after `name=` on a line of `text`, as a pid.
    static func pid(_ name: String, in text: String) -> pid_t? {
        text.split(separator: "\n").first { $0.hasPrefix(name + "=") }.flatMap { pid_t($0.dropFirst(name.count + 1)) }
    }

    /// Waits until the log contains `text`.
    static func waitForLog(_ invocation: Invocation, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            Poll.blockingUntil(within: .seconds(10), every: .milliseconds(5)) { Files.text(invocation.logPath).contains(text) },
            "log: \(Files.text(invocation.logPath))", sourceLocation: sourceLocation)
    }

    @Test("Timeout: timed_out=1, the task gets SIGTERM (its trap runs) and its exit is recorded")
    func timeoutTerm() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done", in: dir)
        invocation.timeout = "0.5"
        invocation.grace = "10"
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["timed_out"] == "1", "\(status.text)")
        #expect(status["exit_status"] == "7", "\(status.text)")
        #expect(status["exit_signal"] == nil)
        #expect(status["stop_signal"] == nil)
        // (dash may also report the foreground sleep killed by the same SIGTERM: "Terminated".)
        #expect(result.logText.hasPrefix("ready\n") && result.logText.hasSuffix("got TERM\n"), "\(result.logText)")
        let runtime = try #require(status.int("finished_at_ms")) - (try #require(status.int("started_at_ms")))
        #expect(runtime >= 500 && runtime < 3000, "ran \(runtime) ms")
    }

    @Test("Timeout with a task that ignores SIGTERM: SIGKILL after the grace period")
    func timeoutKill() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The trap's SIG_IGN is inherited by the sleeps, so the whole group ignores SIGTERM.
        var invocation = Invocation.shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", in: dir)
        invocation.timeout = "0.3"
        invocation.grace = "0.5"
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["timed_out"] == "1", "\(status.text)")
        #expect(status["exit_signal"] == "9", "\(status.text)")
        #expect(status["exit_status"] == nil)
        let runtime = try #require(status.int("finished_at_ms")) - (try #require(status.int("started_at_ms")))
        #expect(runtime >= 800 && runtime < 3000, "ran \(runtime) ms")
        let leader = try #require(status.int("task_pid"))
        #expect(ProcessTable.livingMembers(ofProcessGroup: pid_t(leader)).isEmpty)
    }

    @Test("A task that ends before its timeout is not marked timed out")
    func noTimeout() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("sleep 0.1; exit 2", in: dir)
        invocation.timeout = "30"
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["timed_out"] == nil)
        #expect(status["exit_status"] == "2")
        #expect(result.exit.elapsed < .seconds(5))
    }

    @Test(
        "A stop signal to the supervisor: stop_signal records it, the task's whole group gets SIGTERM and is gone afterwards",
        arguments: [SIGTERM, SIGINT, SIGHUP])
    func stopSignal(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // `wait` is interrupted by the SIGTERM the leader gets (default action: it dies); the
        // background sleep is in the same group and gets it too.
        let invocation = Invocation.shell("sleep 60 & echo background=$!; echo leader=$$; wait", in: dir)
        let running = try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath)
        Self.waitForLog(invocation, containing: "leader=")
        let background = try #require(Self.pid("background", in: Files.text(invocation.logPath)))
        let leader = try #require(Self.pid("leader", in: Files.text(invocation.logPath)))
        #expect(!ProcessTable.isGone(background))
        running.signal(signal)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status.int("stop_signal") == Int64(signal), "\(status.text)")
        #expect(status["exit_signal"] == "15", "\(status.text)")
        #expect(status["timed_out"] == nil)
        #expect(status.int("task_pid") == Int64(leader))
        #expect(result.exit.elapsed < .seconds(5))
        #expect(Poll.blockingUntil(within: .seconds(2)) { ProcessTable.isGone(background) })
        #expect(ProcessTable.livingMembers(ofProcessGroup: leader).isEmpty)
    }

    @Test("Only the first stop signal counts; SIGKILL follows the grace period even if more arrive")
    func laterStopSignals() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", in: dir)
        invocation.grace = "0.6"
        let running = try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath)
        Self.waitForLog(invocation, containing: "ready")
        let stopped = ContinuousClock.now
        running.signal(SIGTERM)
        usleep(200_000)
        running.signal(SIGHUP)
        running.signal(SIGINT)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        let waited = ContinuousClock.now - stopped
        let status = try result.requireStatus()
        #expect(status["stop_signal"] == "15", "\(status.text)")
        #expect(status["exit_signal"] == "9", "\(status.text)")
        #expect(waited >= .seconds(0.6) && waited < .seconds(3), "\(waited)")
    }

    @Test("A stop signal and then the timeout: both are recorded, the stop is not restarted")
    func stopThenTimeout() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", in: dir)
        invocation.grace = "1.5"
        invocation.timeout = "0.5"
        let running = try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath)
        Self.waitForLog(invocation, containing: "ready")
        running.signal(SIGINT)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        let status = try result.requireStatus()
        #expect(status["stop_signal"] == "2", "\(status.text)")
        #expect(status["timed_out"] == "1", "\(status.text)")
        #expect(status["exit_signal"] == "9", "\(status.text)")
        // SIGKILL 1.5 s after the stop signal, not 1.5 s after the timeout.
        let runtime = try #require(status.int("finished_at_ms")) - (try #require(status.int("started_at_ms")))
        #expect(runtime >= 1500 && runtime < 1500 + 400 + 1000, "ran \(runtime) ms")
    }

    @Test("A supervisor started with the stop signals and SIGCHLD ignored still obeys them and still gets the exit status")
    func inheritedIgnoredSignals() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("echo ready; exec sleep 60", in: dir)
        // bash, not dash: dash's trap cannot ignore SIGCHLD.
        let ignore = "trap '' INT TERM HUP CHLD; exec \"$0\" \"$@\""
        let premise = try ChildProcess.run("/bin/bash", ["-c", ignore, "/bin/grep", "SigIgn", "/proc/self/status"])
        let ignored = try #require(SignalMasks.mask("SigIgn", in: Substring(premise.stdout)), "\(premise)")
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] { #expect(ignored & SignalMasks.bit(signal) != 0, "premise: \(signal) ignored") }
        let options = SpawnOptions(wrapper: ["/bin/bash", "-c", ignore])
        let running = try Supervisor.start(
            invocation.arguments, environment: invocation.environment, options: options, stderrPath: invocation.stderrPath)
        Self.waitForLog(invocation, containing: "ready")
        running.signal(SIGINT)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        let status = try result.requireStatus()
        #expect(status["stop_signal"] == "2", "\(status.text)")
        #expect(status["exit_signal"] == "15", "\(status.text)")
    }

    @Test("A supervisor killed with SIGKILL takes the task's leader with it and appends nothing to the journal")
    func supervisorKilled() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("echo leader=$$; exec sleep 60", in: dir)
        let running = try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath)
        Self.waitForLog(invocation, containing: "leader=")
        let leader = try #require(Self.pid("leader", in: Files.text(invocation.logPath)))
        #expect(!ProcessTable.isGone(leader))
        running.signal(SIGKILL)
        let exit = running.wait()
        #expect(exit.signal == SIGKILL)
        #expect(Poll.blockingUntil(within: .seconds(5)) { ProcessTable.isGone(leader) }, "the task outlived its supervisor")
        #expect(!Files.exists(invocation.journalPath))
        #expect(Files.names(in: invocation.jobDirectory) == ["task.log"])
    }

    @Test("A background child holding the pipe does not keep the supervisor waiting: the group is killed when the leader exits")
    func backgroundChildHoldsPipe() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try Supervisor.run(.shell("sleep 60 & echo background=$!; exit 5", in: dir))
        #expect(result.exit.elapsed < .seconds(4), "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "5")
        #expect(status["stop_signal"] == nil)
        let background = try #require(Self.pid("background", in: result.logText), "\(result.logText)")
        #expect(Poll.blockingUntil(within: .seconds(2)) { ProcessTable.isGone(background) }, "the background child survived")
        let leader = try #require(status.int("task_pid"))
        #expect(ProcessTable.livingMembers(ofProcessGroup: pid_t(leader)).isEmpty)
    }

    @Test(
        "A setsid'd grandchild outside the process group keeps the pipe open: reading stops about a second after the leader exits",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid")))
    func setsidGrandchild() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Its own session and group: killing the task's group misses it. setsid execs sleep in
        // place (it is not a group leader), so $! is the sleep's pid. The leader exits only once
        // it has left (else the group's SIGKILL may catch it before setsid()).
        let script = """
            setsid sleep 60 &
            while [ "$(cut -d' ' -f6 /proc/$!/stat)" != "$!" ]; do sleep 0.01; done
            echo escaped=$!
            """
        let result = try Supervisor.run(.shell(script, in: dir))
        let escaped = Self.pid("escaped", in: result.logText)
        if let escaped, escaped > 1 { kill(escaped, SIGKILL) }
        #expect(escaped != nil, "\(result.logText)")
        #expect(result.exit.elapsed >= .seconds(1), "\(result.exit)")
        #expect(result.exit.elapsed < .seconds(4), "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "0")
        // Reaped at once: the drain time is not part of the task's run time.
        let runtime = try #require(status.int("finished_at_ms")) - (try #require(status.int("started_at_ms")))
        #expect(runtime < 900, "ran \(runtime) ms")
    }
}
