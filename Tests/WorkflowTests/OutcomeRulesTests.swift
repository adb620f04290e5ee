import Supervisor
import Testing

@testable import Workflow

@Suite struct OutcomeRulesTests {
    /// A status parsed from the text a supervisor writes: the always-present keys plus `extra`
    /// lines (in file order, after `finished_at_ms`), and the log counters.
    static func status(_ extra: [String], logFailure: String? = nil) throws -> SupervisorStatus {
        var lines = [
            "version=1", "run_key=0123abcd/7/build/1", "task_pid=4242", "started_at_ms=1796300000123", "finished_at_ms=1796300002123",
        ]
        lines += extra
        lines += ["log_bytes=100", "log_omitted=0"]
        if let logFailure { lines.append("log_failure=\(logFailure)") }
        return try SupervisorStatus(parsing: Array(lines.map { $0 + "\n" }.joined().utf8))
    }

    static func context(
        timeout: Double? = nil, cancelling: Bool = false, stopping: Bool = false, missingOutput: String? = nil
    ) -> OutcomeRules.Context {
        OutcomeRules.Context(
            program: "make", workingDirectory: "/srv/work", timeout: timeout, cancelling: cancelling, stopping: stopping,
            missingOutput: missingOutput)
    }

    static func spawnFailure() throws -> SupervisorStatus {
        var lines = ["version=1", "run_key=0123abcd/7/build/1", "started_at_ms=1796300000123", "finished_at_ms=1796300000124"]
        lines += ["log_bytes=0", "log_omitted=0", "spawn_error=chdir", "spawn_errno=2"]
        return try SupervisorStatus(parsing: Array(lines.map { $0 + "\n" }.joined().utf8))
    }

    @Test("Without a status the attempt failed as interrupted, with no exit code")
    func noStatus() {
        #expect(
            OutcomeRules.outcome(of: nil, Self.context())
                == .failed(exitCode: nil, message: "interrupted: the task's supervisor ended without recording an outcome"))
        #expect(OutcomeRules.outcome(of: nil, Self.context(stopping: true)) != .cancelled(exitCode: nil))
    }

    @Test("Without a status while its job is being cancelled the attempt is cancelled")
    func noStatusWhileCancelling() {
        #expect(OutcomeRules.outcome(of: nil, Self.context(cancelling: true)) == .cancelled(exitCode: nil))
    }

    @Test("A task that could not start fails with exit code 127 and the supervisor's step and errno in the message")
    func spawnError() throws {
        let status = try Self.spawnFailure()
        #expect(
            OutcomeRules.outcome(of: status, Self.context())
                == .failed(exitCode: 127, message: "cannot start make in /srv/work: No such file or directory (chdir, errno 2)"))
        // Sluice stopping does not hide why the task never ran.
        #expect(
            OutcomeRules.outcome(of: status, Self.context(stopping: true))
                == .failed(exitCode: 127, message: "cannot start make in /srv/work: No such file or directory (chdir, errno 2)"))
    }

    @Test("A task that could not start while its job is being cancelled is cancelled without an exit code")
    func spawnErrorWhileCancelling() throws {
        #expect(OutcomeRules.outcome(of: try Self.spawnFailure(), Self.context(cancelling: true)) == .cancelled(exitCode: nil))
    }

    @Test("An attempt that ended while its job was being cancelled is cancelled with the task's exit code")
    func cancellingWithExit() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=15", "stop_signal=15"]), Self.context(cancelling: true))
                == .cancelled(exitCode: 143))
        #expect(OutcomeRules.outcome(of: try Self.status(["exit_status=0"]), Self.context(cancelling: true)) == .cancelled(exitCode: 0))
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=3", "timed_out=1"]), Self.context(timeout: 2, cancelling: true))
                == .cancelled(exitCode: 3))
    }

    @Test("An attempt that ended while Sluice stopped its tasks failed as interrupted by Sluice, whatever its exit")
    func stopping() throws {
        for extra in [["exit_status=0"], ["exit_signal=15", "stop_signal=15"], ["exit_status=1", "timed_out=1"]] {
            #expect(
                OutcomeRules.outcome(of: try Self.status(extra), Self.context(timeout: 1, stopping: true))
                    == .failed(
                        exitCode: try Self.status(extra).exitCode, message: "interrupted: Sluice stopped while the task was running"),
                "\(extra)")
        }
        #expect(OutcomeRules.stoppedBySluice == "interrupted: Sluice stopped while the task was running")
    }

    @Test("A cancel request takes precedence over Sluice stopping: the attempt is cancelled, not interrupted")
    func cancellingWhileStopping() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=15", "stop_signal=15"]), Self.context(cancelling: true, stopping: true))
                == .cancelled(exitCode: 143))
        #expect(OutcomeRules.outcome(of: nil, Self.context(cancelling: true, stopping: true)) == .cancelled(exitCode: nil))
    }

    @Test("A stop signal that neither cancel nor Sluice's stop sent fails the attempt as interrupted by that signal")
    func stopSignalFromSomeoneElse() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=15", "stop_signal=2"]), Self.context())
                == .failed(exitCode: 143, message: "interrupted: the task's supervisor received signal 2"))
        // Even a task that exited 0 after the signal did not finish its work as asked.
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=0", "stop_signal=1"]), Self.context())
                == .failed(exitCode: 0, message: "interrupted: the task's supervisor received signal 1"))
    }

    @Test("A timed-out attempt fails with the configured timeout in the message")
    func timedOut() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=15", "timed_out=1"]), Self.context(timeout: 2))
                == .failed(exitCode: 143, message: "timed out after 2.0 s"))
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=0", "timed_out=1"]), Self.context(timeout: 90))
                == .failed(exitCode: 0, message: "timed out after 90 s"))
    }

    @Test("timed_out=0 is not a timeout")
    func timedOutZero() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=0", "timed_out=0"]), Self.context(timeout: 2))
                == .succeeded(exitCode: 0, note: nil))
    }

    @Test("Exit status 0 succeeds without a note")
    func success() throws {
        #expect(OutcomeRules.outcome(of: try Self.status(["exit_status=0"]), Self.context()) == .succeeded(exitCode: 0, note: nil))
    }

    @Test("Exit status 0 without the file the task must create fails, naming the file")
    func successWithMissingOutput() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=0"]), Self.context(missingOutput: "/srv/work/out.tar"))
                == .failed(exitCode: 0, message: "exited with status 0 but did not create /srv/work/out.tar"))
    }

    @Test("A log cut short is a note on a success")
    func logFailureOnSuccess() throws {
        let status = try Self.status(["exit_status=0"], logFailure: "pwrite: No space left on device (errno 28)")
        #expect(
            OutcomeRules.outcome(of: status, Self.context())
                == .succeeded(exitCode: 0, note: "log incomplete: pwrite: No space left on device (errno 28)"))
    }

    @Test("A log cut short is appended to a failure's message")
    func logFailureOnFailure() throws {
        let status = try Self.status(["exit_status=2"], logFailure: "pwrite: Input/output error (errno 5)")
        #expect(
            OutcomeRules.outcome(of: status, Self.context())
                == .failed(exitCode: 2, message: "exited with status 2; log incomplete: pwrite: Input/output error (errno 5)"))
        let killed = try Self.status(["exit_signal=9"], logFailure: "ftruncate: Input/output error (errno 5)")
        #expect(
            OutcomeRules.outcome(of: killed, Self.context())
                == .failed(exitCode: 137, message: "killed by signal 9; log incomplete: ftruncate: Input/output error (errno 5)"))
    }

    @Test("A non-zero exit status fails with that status")
    func nonZeroExit() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=1"]), Self.context())
                == .failed(exitCode: 1, message: "exited with status 1"))
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_status=255"]), Self.context(missingOutput: "/x"))
                == .failed(exitCode: 255, message: "exited with status 255"))
    }

    @Test("A task killed by a signal fails with 128 + the signal as its exit code")
    func killedBySignal() throws {
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=9"]), Self.context())
                == .failed(exitCode: 137, message: "killed by signal 9"))
        #expect(
            OutcomeRules.outcome(of: try Self.status(["exit_signal=11"]), Self.context())
                == .failed(exitCode: 139, message: "killed by signal 11"))
    }
}
