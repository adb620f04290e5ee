internal import CSpawn
import Foundation
public import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// What Sluice itself does with task processes: find a task's executable, create its log
/// directory, signal process groups and reap children. Starting a task is the supervisor's job
/// (`SupervisorLaunch`).
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
        public init(reason: String) {
            self.reason = reason
            self.errno = nil
        }

        /// `context` (e.g. "cannot start make") failed with error number `errno`, reported by
        /// `function` if given: "cannot start make: No such file or directory (posix_spawn, errno 2)".
        public init(_ context: String, errno: Int32, function: String? = nil) {
            let source = function.map { "\($0), " } ?? ""
            self.reason = "\(context): \(String(cString: strerror(errno))) (\(source)errno \(errno))"
            self.errno = errno
        }

        /// `context` failed because of the system call `cause`.
        public init(_ context: String, cause: SystemCallError) {
            self.init(context, errno: cause.errno, function: cause.function)
        }

        public var description: String { self.reason }
    }

    /// Finds the executable for `program`: as given if it contains `/` (relative to the task's
    /// working directory), else the first executable match in `path`.
    ///
    /// - Throws: `SpawnError` with access(2)'s errno (ENOENT, EACCES, ...) for a path, or ENOENT
    ///   when no directory of `path` holds the program (as execvp would report).
    public static func resolve(_ program: String, path: String, workingDirectory: String) throws(SpawnError) -> String {
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
    public static func makeLogDirectory(_ path: String) throws(SpawnError) {
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

    /// The exit code in a `waitpid` status word: the exit status, or 128 + signal when killed.
    public static func exitCode(status: Int32) -> Int32 {
        // WIFEXITED/WEXITSTATUS are macros Swift cannot import; decode the status word directly.
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}

extension TaskProcess {
    /// Reaps `pid` if it is a child of this process that has exited, without waiting; returns
    /// its exit code then, nil otherwise (still running, or not our child: ECHILD).
    @discardableResult
    public static func reapIfExited(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        guard let result = try? syscall(where: "waitpid", { waitpid(pid, &status, WNOHANG) }), result == pid else { return nil }
        return self.exitCode(status: status)
    }
}
