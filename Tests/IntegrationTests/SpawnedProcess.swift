import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid`, for lighttpd.
///
/// Not Foundation's `Process`: on Linux it learns that a child exited when a socket it passes to the
/// child reaches end-of-file. lighttpd hands that inherited descriptor on to the `bin-path` backend,
/// so while sluice lives (exactly the orphan case the tests look for) `Process` never reaps lighttpd
/// and `waitUntilExit()` blocks forever. Here the child gets only stdin, stdout and stderr.
///
/// Confinement: owned and used by one `LighttpdHarness`, hence by one test at a time.
final class SpawnedProcess: @unchecked Sendable {
    /// The child's process id.
    let pid: pid_t
    /// The raw `waitpid` status once the child has been reaped.
    private(set) var waitStatus: Int32?

    /// Starts `path` with `arguments` in its own process group, with stdin from `/dev/null` and
    /// stdout and stderr appended to `outputPath`, default signal dispositions and an empty signal mask.
    /// - Throws: `HarnessError` if `posix_spawn` fails.
    init(path: String, arguments: [String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process (sockets, other tests' pipes) may leak into lighttpd and sluice.
        // (glibc ignores a close action for a descriptor that was closed in the meantime.)
        for fd in Self.openDescriptors() where fd > 2 {
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
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer {
            for argument in argv { free(argument) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw HarnessError("posix_spawn \(path) failed: \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// Whether the child is still running; reaps it if it has exited.
    var isRunning: Bool {
        self.reap(blocking: false)
        return self.waitStatus == nil
    }

    /// A description of how the child ended, e.g. `exit status 1` or `signal 9`.
    var terminationDescription: String {
        guard let status = self.waitStatus else { return "still running" }
        if status & 0x7f == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "signal \(status & 0x7f)"
    }

    /// Sends `signal`, waits up to `timeout` for the child to exit, then SIGKILLs and reaps it.
    func terminate(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) {
        guard self.isRunning else { return }
        kill(self.pid, signal)
        let deadline = ContinuousClock.now + timeout
        while self.isRunning && ContinuousClock.now < deadline {
            usleep(20_000)
        }
        if self.isRunning {
            kill(self.pid, SIGKILL)
            self.reap(blocking: true)
        }
    }

    /// The descriptors open in this process, from `/proc/self/fd`.
    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    private func reap(blocking: Bool) {
        guard self.waitStatus == nil else { return }
        var status: Int32 = 0
        while true {
            let result = waitpid(self.pid, &status, blocking ? 0 : WNOHANG)
            if result == self.pid {
                self.waitStatus = status
            } else if result == -1 && errno == EINTR {
                continue
            } else if result == -1 {
                self.waitStatus = -1  // ECHILD: reaped elsewhere; it is gone either way.
            }
            return
        }
    }
}
