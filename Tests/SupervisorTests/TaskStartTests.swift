import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How the task starts: environment, argv, working directory, descriptors, signals, session and
/// process group; and what happens when it cannot start.
@Suite("Starting the task", .timeLimit(.minutes(1)))
struct TaskStartTests {
    @Test("The supervisor's environment reaches the task unchanged: same entries, same order, any bytes")
    func environmentUnchanged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation(dir, program: "/usr/bin/env", argv: ["env", "-0"])
        invocation.environment = [
            Array("SLUICE_RUN_KEY=\(invocation.runKey)".utf8), Array("PATH=/nowhere".utf8), Array("WITH SPACE=a  b ".utf8),
            Array("EMPTY=".utf8), Array("EQUALS=a=b=c".utf8), Array("NEWLINE=line 1\nline 2".utf8), Array("UTF8=ü 🚀".utf8),
            Array("RAW=".utf8) + [0xFF, 0xFE, 0x80, 0x1B], Array("DUPLICATE=1".utf8), Array("DUPLICATE=2".utf8), Array("HOME=/x".utf8),
        ]
        let result = try Supervisor.run(invocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        #expect(result.log == invocation.environment.flatMap { $0 + [0] }, "\(result.logText)")
    }

    @Test("An empty environment stays empty")
    func emptyEnvironment() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation(dir, program: "/usr/bin/env", argv: ["env"])
        invocation.environment = []
        let result = try Supervisor.run(invocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        #expect(result.log.isEmpty, "\(result.logText)")
    }

    @Test("argv arrives exactly: its own argv[0], spaces, empty strings, option-like and non-UTF-8 arguments")
    func argvExact() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation(dir, program: "/bin/sh", argv: ["my task", "-c", "cat /proc/$$/cmdline", "a b"])
        invocation.argv += [[], Array("".utf8), Array("ü 🚀".utf8), [0xFF, 0xFE, 0x80], Array("--".utf8), Array("--run-key".utf8)]
        invocation.argv += [Array("$(id) ; `x` 'q' \"d\" \\".utf8), Array("\n".utf8)]
        let result = try Supervisor.run(invocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        #expect(result.log == invocation.argv.flatMap { $0 + [0] }, "\(result.logText)")
    }

    @Test("The task runs in --cwd")
    func workingDirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let work = dir.file("a dir")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        var invocation = Invocation(dir, program: "/bin/pwd", argv: ["pwd", "-P"])
        invocation.directory = work
        let result = try Supervisor.run(invocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        let resolved = try #require(realpath(work, nil))
        defer { free(resolved) }
        #expect(result.logText == String(cString: resolved) + "\n")
    }

    @Test("stdin is /dev/null, stdout and stderr one pipe, and no other descriptor reaches the task, even one the supervisor inherited")
    func descriptors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let secret = try dir.write("inherited", "not for the task")
        // Without close-on-exec, handed to the supervisor as 7 and 40: the task must get neither.
        let fd = open(secret, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let invocation = Invocation(dir, program: "/bin/ls", argv: ["ls", "-l", "/proc/self/fd/"])
        let running = try Supervisor.start(
            invocation.arguments, environment: invocation.environment, options: SpawnOptions(inherited: [7: fd, 40: fd], stdin: secret),
            stderrPath: invocation.stderrPath)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        var descriptors: [Int: String] = [:]
        for line in result.logText.split(separator: "\n") where line.contains(" -> ") {
            let parts = line.components(separatedBy: " -> ")
            if let number = parts[0].split(separator: " ").last.flatMap({ Int($0) }) { descriptors[number] = parts[1] }
        }
        #expect(descriptors[0] == "/dev/null", "\(result.logText)")
        #expect(descriptors[1]?.hasPrefix("pipe:") == true, "\(result.logText)")
        #expect(descriptors[2] == descriptors[1])
        // ls's own directory descriptor is the only other one.
        let others = descriptors.filter { $0.key > 2 }
        #expect(others.count <= 1, "\(result.logText)")
        #expect(others.values.allSatisfy { $0.hasPrefix("/proc/") }, "\(result.logText)")
        #expect(!result.logText.contains("inherited"))
    }

    @Test("stdin is at end-of-file at once, whatever the supervisor's stdin: a task reading it gets nothing and does not wait")
    func stdinEmpty() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = try dir.write("input", "the supervisor's stdin, not the task's\n")
        let result = try Supervisor.run(.shell("cat; echo \"read $?\"; wc -c", in: dir), options: SpawnOptions(stdin: input))
        #expect(try result.requireStatus()["exit_status"] == "0")
        #expect(result.logText == "read 0\n0\n")
        #expect(result.exit.elapsed < .seconds(5))
    }

    @Test(
        "The task's SigIgn and SigBlk are empty although the supervisor started with SIGQUIT and glibc's 32 and 33 ignored and SIGUSR1 blocked"
    )
    func signalsReset() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A non-interactive shell ignores what `trap ''` names, and ignored signals survive exec.
        let options = SpawnOptions(
            blocked: [SIGUSR1, SIGQUIT, SIGTERM], ignoreInternalSignals: true,
            wrapper: ["/bin/sh", "-c", "trap '' INT QUIT; exec \"$0\" \"$@\""])
        // The shell execs cat in its place, so cat's masks are the task's as the supervisor left
        // them (a shell's own /proc/$$/status is unreliable: dash blocks every signal around the
        // vfork of a command); $PPID is the supervisor.
        var invocation = Invocation.shell("exec cat /proc/self/status /proc/$PPID/status", in: dir)
        invocation.head = 1 << 20
        let running = try Supervisor.start(
            invocation.arguments, environment: invocation.environment, options: options, stderrPath: invocation.stderrPath)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        let parts = result.logText.components(separatedBy: "Name:").dropFirst()
        try #require(parts.count == 2, "\(result.logText)")
        let (task, supervisor) = (Substring(parts.first!), Substring(parts.last!))

        // The premise: the supervisor really had them ignored and blocked.
        let supervisorIgnored = try #require(SignalMasks.mask("SigIgn", in: supervisor), "\(supervisor)")
        let supervisorBlocked = try #require(SignalMasks.mask("SigBlk", in: supervisor), "\(supervisor)")
        for signal in [SIGQUIT, 32, 33] {
            #expect(supervisorIgnored & SignalMasks.bit(signal) != 0, "premise: supervisor ignores \(signal)")
        }
        #expect(supervisorBlocked & SignalMasks.bit(SIGUSR1) != 0, "premise: supervisor blocks SIGUSR1")

        let ignored = try #require(SignalMasks.mask("SigIgn", in: task), "\(task)")
        let blocked = try #require(SignalMasks.mask("SigBlk", in: task), "\(task)")
        #expect(ignored & SignalMasks.bit(SIGINT) == 0, "SIGINT still ignored: SigIgn \(String(ignored, radix: 16))")
        #expect(ignored & SignalMasks.bit(SIGQUIT) == 0, "SIGQUIT still ignored: SigIgn \(String(ignored, radix: 16))")
        #expect(blocked & SignalMasks.bit(SIGTERM) == 0, "SIGTERM still blocked: SigBlk \(String(blocked, radix: 16))")
        #expect(ignored == 0, "SigIgn \(String(ignored, radix: 16))")
        #expect(blocked == 0, "SigBlk \(String(blocked, radix: 16))")
    }

    @Test(
        "The supervisor leads its own session (started in the test's session or in a new one); the task leads its own process group",
        arguments: [false, true])
    func sessionAndGroup(newSession: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("cat /proc/$$/stat", in: dir)
        let running = try Supervisor.start(
            invocation.arguments, environment: invocation.environment, options: SpawnOptions(newSession: newSession),
            stderrPath: invocation.stderrPath)
        let result = Supervisor.Result(exit: running.wait(), invocation: invocation, sourceLocation: #_sourceLocation)
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "0")
        // pid (comm) state ppid pgrp session ...
        let text = result.logText
        let close = try #require(text.lastIndex(of: ")"), "\(text)")
        let fields = text[text.index(after: close)...].split(separator: " ")
        try #require(fields.count > 4, "\(text)")
        #expect(Int32(fields[1]) == running.pid, "the task's parent is the supervisor")
        #expect(Int64(fields[2]) == status.int("task_pid"), "the task leads its own process group")
        #expect(Int32(fields[3]) == running.pid, "the session is the supervisor's own: \(text)")
        #expect(getsid(0) != running.pid)
    }

    // MARK: - Start failures (ported from WorkflowTests/SpawnErrorTests)

    static let noSuchFile = String(cString: strerror(ENOENT))

    /// Runs a task that cannot start and checks what every start failure has in common.
    private static func startFailure(_ invocation: Invocation, step: String, errno expected: Int32) throws -> Supervisor.Result {
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status["spawn_error"] == step, "\(status.text)")
        #expect(status.int("spawn_errno") == Int64(expected), "\(status.text)")
        #expect(status["exit_status"] == nil)
        #expect(status["exit_signal"] == nil)
        #expect(status["log_bytes"] == "0")
        #expect(status["log_omitted"] == "0")
        #expect(status["log_failure"] == nil)
        // Forked, so the pid is there; the child is gone.
        let pid = try #require(status.int("task_pid"))
        #expect(ProcessTable.isGone(pid_t(pid)))
        let argv0 = String(decoding: invocation.argv[0], as: UTF8.self)
        let line =
            "sluice: cannot start \(argv0) in \(invocation.directory): \(String(cString: strerror(expected))) (\(step), errno \(expected))\n"
        #expect(result.logText == line)
        return result
    }

    @Test("A working directory that does not exist: spawn_error chdir, ENOENT, and one line in the log")
    func missingWorkingDirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let marker = dir.file("ran")
        var invocation = Invocation(dir, program: "/usr/bin/touch", argv: ["touch", marker])
        invocation.directory = dir.file("missing")
        let result = try Self.startFailure(invocation, step: "chdir", errno: ENOENT)
        #expect(result.logText == "sluice: cannot start touch in \(dir.file("missing")): \(Self.noSuchFile) (chdir, errno 2)\n")
        #expect(!Files.exists(marker))
    }

    @Test("A program without an execute bit: spawn_error execve, EACCES")
    func notExecutable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = try dir.write("script", "#!/bin/sh\necho ran\n")
        chmod(program, 0o644)
        _ = try Self.startFailure(Invocation(dir, program: program, argv: ["script"]), step: "execve", errno: EACCES)
    }

    @Test("A directory as the program: spawn_error execve, EACCES")
    func directoryAsProgram() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Self.startFailure(Invocation(dir, program: dir.path, argv: ["dir"]), step: "execve", errno: EACCES)
    }

    @Test(
        "A program that does not exist, or whose directory does not: spawn_error execve, ENOENT", arguments: ["program", "missing/program"])
    func missingProgram(name: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file(name)
        let result = try Self.startFailure(
            Invocation(dir, program: program, argv: ["sluice-no-such-program"]), step: "execve", errno: ENOENT)
        #expect(result.logText.contains("sluice-no-such-program"))
        #expect(result.logText.contains("errno \(ENOENT)"))
    }

    @Test("A start failure with an unwritable log still writes the status, with log_failure")
    func startFailureWithoutLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation(dir, program: dir.file("missing"), argv: ["missing"])
        invocation.logPath = dir.file("no/such/dir/task.log")
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["spawn_error"] == "execve")
        #expect(status["log_failure"] == "open: \(Self.noSuchFile) (errno 2)")
    }
}
