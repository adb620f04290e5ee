import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program the integration tests run to completion with a time limit (a headless browser,
/// schemathesis), its stdout and stderr captured in files.
///
/// Started with `posix_spawn` in its own process group, like `SpawnedProcess` and for the same
/// reason (Foundation's `Process` waits for an inherited socket that a browser's helper processes
/// would keep open). When it ends, or its time is up, the whole group gets SIGKILL, so helper
/// processes it leaves behind (a browser's renderer and GPU processes) never outlive the test.
///
/// ```swift
/// let command = try ExternalCommand(path: "/bin/echo", arguments: ["hi"], directory: temporary)
/// let result = await command.wait(timeout: .seconds(5))   // result.stdout == "hi\n"
/// ```
///
/// Confinement: owned and used by the one test that started it, hence `@unchecked Sendable`.
final class ExternalCommand: @unchecked Sendable {
    /// How the program ended, with what it printed.
    struct Result: Sendable, CustomStringConvertible {
        /// The exit status, or nil if a signal ended it (or the time limit did).
        let exitCode: Int32?
        /// Whether the time limit ran out and the program was killed.
        let timedOut: Bool
        /// Everything written to stdout.
        let stdout: String
        /// Everything written to stderr.
        let stderr: String

        /// Whether the program exited with status 0 in time.
        var succeeded: Bool { self.exitCode == 0 && !self.timedOut }

        /// How it ended, and the end of stderr, for test failure messages.
        var description: String {
            let how = self.timedOut ? "timed out" : self.exitCode.map { "exit status \($0)" } ?? "killed by a signal"
            return "\(how); stderr ends:\n\(self.stderr.suffix(3000))"
        }
    }

    /// The process id (and process group id) of the program.
    let pid: pid_t
    /// The command line, for messages.
    let commandLine: [String]
    private let stdoutPath: String
    private let stderrPath: String
    private var waitStatus: Int32?

    /// Starts `path` with `arguments` in `directory` (also its working directory, so caches a
    /// program keeps there vanish with it); stdin is `/dev/null`, stdout and stderr go to new files
    /// in `directory`.
    /// - Parameter environment: Extra variables on top of this process's environment.
    /// - Throws: `HarnessError` if the program cannot be started.
    init(path: String, arguments: [String], directory: String, environment: [String: String] = [:]) throws {
        let stamp = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.stdoutPath = "\(directory)/command-\(stamp).out"
        self.stderrPath = "\(directory)/command-\(stamp).err"
        self.commandLine = [path] + arguments

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, self.stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for fd in ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap({ Int32($0) })
        where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { _, new in new }
        // `env -C` changes the working directory, then execs the program (same pid): glibc's
        // posix_spawn_file_actions_addchdir_np is not visible to Swift.
        let argv: [UnsafeMutablePointer<CChar>?] = (["/usr/bin/env", "-C", directory] + self.commandLine).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, envp)
        guard result == 0 else { throw HarnessError("posix_spawn \(path) failed: \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// Runs a program to completion (see `init` and `wait(timeout:)`).
    static func run(
        _ path: String, _ arguments: [String], directory: String, environment: [String: String] = [:], timeout: Duration
    ) async throws -> Result {
        try await ExternalCommand(path: path, arguments: arguments, directory: directory, environment: environment)
            .wait(timeout: timeout)
    }

    /// Whether the program still runs; reaps it if it has exited.
    var isRunning: Bool {
        self.reap()
        return self.waitStatus == nil
    }

    /// Waits until the program exits or `timeout` passes (then it is killed), kills whatever is
    /// left of its process group, and returns what it printed.
    func wait(timeout: Duration) async -> Result {
        let deadline = ContinuousClock.now + timeout
        while self.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let timedOut = self.isRunning
        kill(-self.pid, SIGKILL)
        while self.isRunning { usleep(10_000) }
        let status = self.waitStatus ?? -1
        let exited = status & 0x7f == 0
        return Result(
            exitCode: exited && !timedOut ? (status >> 8) & 0xff : nil, timedOut: timedOut,
            stdout: Self.read(self.stdoutPath), stderr: Self.read(self.stderrPath))
    }

    /// A file's text (invalid UTF-8 replaced), or "" if it cannot be read.
    static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    private func reap() {
        guard self.waitStatus == nil else { return }
        var status: Int32 = 0
        while true {
            let result = waitpid(self.pid, &status, WNOHANG)
            if result == self.pid {
                self.waitStatus = status
            } else if result == -1 && errno == EINTR {
                continue
            } else if result == -1 {
                self.waitStatus = -1  // ECHILD: reaped elsewhere; gone either way.
            }
            return
        }
    }
}
