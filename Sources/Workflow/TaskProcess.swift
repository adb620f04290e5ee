internal import CSpawn
import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Starting and stopping task processes with `posix_spawn`: an argv array (never a shell string),
/// an explicit environment, its own process group, every signal at its default disposition and
/// none blocked, stdin from /dev/null, and stdout and stderr either appended to a log file
/// (`spawn`) or sent through a pipe to a size-capped log (`spawnPiped`, then `supervise`).
public enum TaskProcess {
    /// Why a process could not be started.
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        /// What failed, for the task's message; includes the system's text for `errno`, if any.
        public let reason: String
        /// The error number of the system call that failed, if one did (ENOENT for a missing
        /// program or working directory, EACCES for one without permission, ...); nil for a
        /// refusal of our own, such as an empty argv.
        public let errno: Int32?

        /// A failure of our own, without an error number.
        init(reason: String) {
            self.reason = reason
            self.errno = nil
        }

        /// `context` (e.g. "cannot start make") failed with error number `errno`, reported by
        /// `function` if given: "cannot start make: No such file or directory (posix_spawn, errno 2)".
        init(_ context: String, errno: Int32, function: String? = nil) {
            let source = function.map { "\($0), " } ?? ""
            self.reason = "\(context): \(String(cString: strerror(errno))) (\(source)errno \(errno))"
            self.errno = errno
        }

        /// `context` failed because of the system call `cause`.
        init(_ context: String, cause: SystemCallError) {
            self.init(context, errno: cause.errno, function: cause.function)
        }

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
        try self.start(argv: argv, environment: environment, workingDirectory: workingDirectory) { actions throws(SystemCallError) in
            try errorNumberCall(where: "posix_spawn_file_actions_addopen") {
                posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
            }
            try errorNumberCall(where: "posix_spawn_file_actions_adddup2") { posix_spawn_file_actions_adddup2(&actions, 1, 2) }
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
            pid = try self.start(argv: argv, environment: environment, workingDirectory: workingDirectory) {
                actions throws(SystemCallError) in
                // dup2 onto 1 and 2 clears close-on-exec on the copies only, so the child keeps
                // stdout and stderr while closefrom(3) drops both original pipe ends.
                try errorNumberCall(where: "posix_spawn_file_actions_adddup2") { posix_spawn_file_actions_adddup2(&actions, writeEnd, 1) }
                try errorNumberCall(where: "posix_spawn_file_actions_adddup2") { posix_spawn_file_actions_adddup2(&actions, writeEnd, 2) }
            }
        } catch {
            try? Posix.close(readEnd)
            try? Posix.close(writeEnd)
            throw error
        }
        // The parent must not keep a writer: end-of-file (read() == 0, POLLHUP) only comes once
        // every write end is closed, and ours would stay open for as long as we read.
        try? Posix.close(writeEnd)
        // The child has not been reaped, so even if it already exited its pid cannot be reused
        // yet and the pidfd refers to it (and is readable at once). Any failure (ENOSYS before
        // Linux 5.3, EMFILE) leaves -1, and `supervise` falls back to polling waitpid.
        let pidFD = (try? syscall(where: "pidfd_open") { cspawn_pidfd_open(pid) }) ?? -1
        return SpawnedTask(pid: pid, outputFD: readEnd, pidFD: pidFD)
    }

    /// A close-on-exec pipe whose two ends are both above stderr.
    ///
    /// A daemon started with fd 0, 1 or 2 closed would get a pipe end there, and the child's
    /// redirections (`/dev/null` onto 0, the write end onto 1 and 2) would then clobber it
    /// before it is duplicated.
    private static func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        do {
            try syscall(where: "pipe2") { cspawn_pipe_cloexec(&fds) }
        } catch {
            throw SpawnError("cannot create output pipe", cause: error)
        }
        for index in fds.indices where fds[index] < 3 {
            let original = fds[index]
            defer { try? Posix.close(original) }
            do {
                fds[index] = try syscall(where: "fcntl(F_DUPFD_CLOEXEC)") { fcntl(original, F_DUPFD_CLOEXEC, 3) }
            } catch {
                fds[index] = -1
                fds.filter { $0 >= 0 && $0 != original }.forEach { try? Posix.close($0) }
                throw SpawnError("cannot create output pipe", cause: error)
            }
        }
        return (fds[0], fds[1])
    }

    /// The shared part of `spawn` and `spawnPiped`: `redirectOutput` adds the file actions for
    /// descriptors 1 and 2, between stdin's and closefrom(3).
    private static func start(
        argv: [String], environment: [String: String], workingDirectory: String,
        redirectOutput: (inout posix_spawn_file_actions_t) throws(SystemCallError) -> Void
    ) throws(SpawnError) -> Int32 {
        guard let program = argv.first, !program.isEmpty else { throw SpawnError(reason: "empty argv") }
        let executable = try self.resolve(program, path: environment["PATH"] ?? "/usr/bin:/bin", workingDirectory: workingDirectory)
        let context = "cannot start \(program) in \(workingDirectory)"

        // posix_spawn(3): every posix_spawn_file_actions_* and posix_spawnattr_* call returns 0
        // or an error number (ENOMEM, EINVAL, EBADF) and leaves errno alone. A failed add would
        // start the task without that action (stdout on our stdout, our sockets inherited), so
        // each one is checked; destroy is only called on what init set up.
        var actions = posix_spawn_file_actions_t()
        do {
            try errorNumberCall(where: "posix_spawn_file_actions_init") { posix_spawn_file_actions_init(&actions) }
        } catch {
            throw SpawnError(context, cause: error)
        }
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        do {
            try errorNumberCall(where: "posix_spawnattr_init") { posix_spawnattr_init(&attributes) }
        } catch {
            throw SpawnError(context, cause: error)
        }
        defer { posix_spawnattr_destroy(&attributes) }

        do {
            try errorNumberCall(where: "posix_spawn_file_actions_addopen") {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            try redirectOutput(&actions)
            // libfcgi accepts connections without O_CLOEXEC, so close everything above stderr:
            // a task must never hold a client connection or the FastCGI socket open.
            try errorNumberCall(where: "posix_spawn_file_actions_addclosefrom_np") { cspawn_file_actions_addclosefrom(&actions, 3) }
            try errorNumberCall(where: "posix_spawn_file_actions_addchdir_np") { cspawn_file_actions_addchdir(&actions, workingDirectory) }
            try self.configure(&attributes)
        } catch {
            throw SpawnError(context, cause: error)
        }

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        // Not `errorNumberCall(where:_:)`, which repeats EINTR: a spawn is never
        // repeated. glibc reports the child's failures before exec (chdir, open, execve) as the
        // result, so a missing working directory is ENOENT here.
        let rc = posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else { throw SpawnError(context, errno: rc, function: "posix_spawn") }
        return pid
    }

    /// Sets the attributes every task starts with: its own process group, no blocked signal,
    /// and every signal at its default disposition, whatever Sluice inherited or set itself.
    private static func configure(_ attributes: inout posix_spawnattr_t) throws(SystemCallError) {
        // Own process group (pgid = pid), so cancel and timeouts reach the task's children too.
        try errorNumberCall(where: "posix_spawnattr_setpgroup") { posix_spawnattr_setpgroup(&attributes, 0) }
        // Sluice blocks SIGTERM/SIGINT/SIGHUP in every thread to sigwait on them, and the mask
        // survives exec: without an empty mask a task could not be stopped with SIGTERM.
        var empty = sigset_t()
        sigemptyset(&empty)
        try errorNumberCall(where: "posix_spawnattr_setsigmask") { posix_spawnattr_setsigmask(&attributes, &empty) }
        // Ignored signals stay ignored across exec (execve(2)), and Sluice may inherit some: a
        // non-interactive shell starts background commands with SIGINT and SIGQUIT ignored, and
        // libfcgi changes SIGPIPE. So reset every signal to its default, not a chosen few.
        // sigfillset is not enough: glibc leaves out its two internal signals (32 and 33), and
        // posix_spawn then sets those to SIG_IGN in the child (sysdeps/unix/sysv/linux/spawni.c),
        // so every bit is set directly. glibc's child skips signals that cannot be changed
        // (SIGKILL, SIGSTOP: sigaction fails with EINVAL and the result is ignored) and signals
        // above NSIG, so the full set is accepted and posix_spawn succeeds.
        var everySignal = sigset_t()
        withUnsafeMutableBytes(of: &everySignal) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0xff) }
        try errorNumberCall(where: "posix_spawnattr_setsigdefault") { posix_spawnattr_setsigdefault(&attributes, &everySignal) }
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        try errorNumberCall(where: "posix_spawnattr_setflags") { posix_spawnattr_setflags(&attributes, Int16(flags)) }
    }

    /// Finds the executable for `program`: as given if it contains `/` (relative to the task's
    /// working directory), else the first executable match in `path`.
    ///
    /// - Throws: `SpawnError` with access(2)'s errno (ENOENT, EACCES, ...) for a path, or ENOENT
    ///   when no directory of `path` holds the program (as execvp would report).
    static func resolve(_ program: String, path: String, workingDirectory: String) throws(SpawnError) -> String {
        if program.contains("/") {
            let full = program.hasPrefix("/") ? program : workingDirectory + "/" + program
            do {
                try syscall(where: "access") { access(full, X_OK) }
            } catch {
                throw SpawnError("cannot start \(program): not an executable file", cause: error)
            }
            return full
        }
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SpawnError("cannot start \(program): not found in PATH \(path)", errno: ENOENT)
    }

    /// Creates the directory `path` (mode 0750 less the umask) for task logs, unless it exists.
    ///
    /// - Throws: `SpawnError` with mkdir(2)'s errno (ENOENT for a missing parent, EACCES,
    ///   ENOSPC, ...): a task whose log cannot be written is not started.
    static func makeLogDirectory(_ path: String) throws(SpawnError) {
        do {
            try syscall(where: "mkdir") { mkdir(path, 0o750) }
        } catch {
            guard error.errno != EEXIST else { return }
            throw SpawnError("cannot create log directory \(path)", cause: error)
        }
    }

    /// Sends `signal` to the whole process group `pgid`. Returns false if no process is left.
    @discardableResult
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) -> Bool {
        guard pgid > 1 else { return false }  // never kill(0) or kill(-1): that would hit us or everyone
        return kill(-pgid, signal) == 0
    }

    /// Blocks until `pid` exits and returns its exit code (128 + signal when killed), or -1 if
    /// it cannot be waited for (ECHILD: not our child, or already reaped).
    public static func wait(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        // EINTR (a handler installed without SA_RESTART ran) is retried inside `syscall`.
        guard (try? syscall(where: "waitpid") { waitpid(pid, &status, 0) }) != nil else { return -1 }
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
