internal import CSpawn
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starting and stopping task processes with `posix_spawn`: an argv array (never a shell string),
/// an explicit environment, its own process group, stdin from /dev/null, and stdout and stderr
/// either appended to a log file (`spawn`) or sent through a pipe to a size-capped log
/// (`spawnPiped`, then `supervise`).
public enum TaskProcess {
    /// Why a process could not be started.
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        /// What failed, for the task's message.
        public let reason: String
        public var description: String { self.reason }
    }

    /// Starts `argv` and returns its pid, which is also its process-group id.
    ///
    /// - Parameters:
    ///   - argv: the program and its arguments. A program without `/` is looked up in the
    ///     `PATH` of `environment` (not of this process).
    ///   - environment: the child's complete environment.
    ///   - workingDirectory: the child's working directory.
    ///   - logPath: file that receives stdout and stderr (created 0640, appended).
    public static func spawn(argv: [String], environment: [String: String], workingDirectory: String, logPath: String) throws(SpawnError)
        -> Int32
    {
        try self.start(argv: argv, environment: environment, workingDirectory: workingDirectory) { actions in
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
    }

    /// Starts `argv` like `spawn(argv:environment:workingDirectory:logPath:)` (same process
    /// group, signal reset, descriptors and working directory) but with stdout and stderr
    /// connected to one pipe, whose read end the caller receives together with a pidfd.
    ///
    /// Hand the result to `supervise(_:logPath:limits:)`, which reads the pipe, reaps the child
    /// and closes both descriptors. Until then the caller owns them, and nothing else may reap
    /// the pid (no `wait(_:)`, no `waitpid(-1)`).
    ///
    /// - Parameters:
    ///   - argv: the program and its arguments. A program without `/` is looked up in the
    ///     `PATH` of `environment` (not of this process).
    ///   - environment: the child's complete environment.
    ///   - workingDirectory: the child's working directory.
    /// - Returns: the pid (also the process-group id), the pipe's read end, and a pidfd, which is
    ///   -1 when the kernel has no pidfd_open (before Linux 5.3).
    public static func spawnPiped(argv: [String], environment: [String: String], workingDirectory: String) throws(SpawnError)
        -> SpawnedTask
    {
        let (readEnd, writeEnd) = try self.makePipe()
        let pid: Int32
        do {
            pid = try self.start(argv: argv, environment: environment, workingDirectory: workingDirectory) { actions in
                // dup2 onto 1 and 2 clears close-on-exec on the copies only, so the child keeps
                // stdout and stderr while closefrom(3) drops both original pipe ends.
                posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
                posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
            }
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        // The parent must not keep a writer: end-of-file (read() == 0, POLLHUP) only comes once
        // every write end is closed, and ours would stay open for as long as we read.
        close(writeEnd)
        // The child has not been reaped, so even if it already exited its pid cannot be reused
        // yet and the pidfd refers to it (and is readable at once).
        let pidFD = cspawn_pidfd_open(pid)
        return SpawnedTask(pid: pid, outputFD: readEnd, pidFD: pidFD < 0 ? -1 : pidFD)
    }

    /// A close-on-exec pipe whose two ends are both above stderr.
    ///
    /// A daemon started with fd 0, 1 or 2 closed would get a pipe end there, and the child's
    /// redirections (`/dev/null` onto 0, the write end onto 1 and 2) would then clobber it
    /// before it is duplicated.
    private static func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard cspawn_pipe_cloexec(&fds) == 0 else {
            throw SpawnError(reason: "cannot create output pipe: \(String(cString: strerror(errno)))")
        }
        for index in fds.indices where fds[index] < 3 {
            let moved = fcntl(fds[index], F_DUPFD_CLOEXEC, 3)
            let failure = errno
            close(fds[index])
            fds[index] = moved
            if moved < 0 {
                fds.filter { $0 >= 0 }.forEach { close($0) }
                throw SpawnError(reason: "cannot create output pipe: \(String(cString: strerror(failure)))")
            }
        }
        return (fds[0], fds[1])
    }

    /// The shared part of `spawn` and `spawnPiped`: `redirectOutput` adds the file actions for
    /// descriptors 1 and 2, between stdin's and closefrom(3).
    private static func start(
        argv: [String], environment: [String: String], workingDirectory: String,
        redirectOutput: (inout posix_spawn_file_actions_t) -> Void
    ) throws(SpawnError) -> Int32 {
        guard let program = argv.first, !program.isEmpty else { throw SpawnError(reason: "empty argv") }
        let executable = try self.resolve(program, path: environment["PATH"] ?? "/usr/bin:/bin", workingDirectory: workingDirectory)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        redirectOutput(&actions)
        // libfcgi accepts connections without O_CLOEXEC, so close everything above stderr:
        // a task must never hold a client connection or the FastCGI socket open.
        cspawn_file_actions_addclosefrom(&actions, 3)
        cspawn_file_actions_addchdir(&actions, workingDirectory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group (pgid = pid), so cancel and timeouts reach the task's children too.
        posix_spawnattr_setpgroup(&attributes, 0)
        // Sluice blocks SIGTERM/SIGINT/SIGHUP in every thread to sigwait on them, and a blocked
        // mask survives exec: without this reset a task could not be stopped with SIGTERM.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        // libfcgi installs a SIGPIPE handler; handlers reset on exec, but give the child clean
        // defaults for every signal we touch, ignored ones included.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGUSR1] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else { throw SpawnError(reason: "cannot start \(program): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Finds the executable for `program`: as given if it contains `/` (relative to the task's
    /// working directory), else the first executable match in `path`.
    static func resolve(_ program: String, path: String, workingDirectory: String) throws(SpawnError) -> String {
        if program.contains("/") {
            let full = program.hasPrefix("/") ? program : workingDirectory + "/" + program
            guard access(full, X_OK) == 0 else { throw SpawnError(reason: "cannot start \(program): not an executable file") }
            return full
        }
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SpawnError(reason: "cannot start \(program): not found in PATH \(path)")
    }

    /// Sends `signal` to the whole process group `pgid`. Returns false if no process is left.
    @discardableResult
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) -> Bool {
        guard pgid > 1 else { return false }  // never kill(0) or kill(-1): that would hit us or everyone
        return kill(-pgid, signal) == 0
    }

    /// Blocks until `pid` exits and returns its exit code (128 + signal when killed).
    public static func wait(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return self.exitCode(status: status)
    }

    /// The exit code in a `waitpid` status word: the exit status, or 128 + signal when killed.
    static func exitCode(status: Int32) -> Int32 {
        // WIFEXITED/WEXITSTATUS are macros Swift cannot import; decode the status word directly.
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}
