public import Foundation
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// A program the tests start: lighttpd, a headless browser, schemathesis, `openssl`, `sluice
/// check`, a Python helper. Started with `posix_spawn` and reaped with `waitpid`.
///
/// Not Foundation's `Process`: on Linux it learns that a child exited when a socket it passes to the
/// child reaches end-of-file. lighttpd hands that inherited descriptor on to its `bin-path` backend,
/// and a browser to its helper processes, so while those live `Process` never reaps the child and
/// `waitUntilExit()` blocks forever. Here the child gets only stdin, stdout and stderr (every other
/// descriptor of the test process is closed in it), starts in its own process group with the
/// default disposition for the usual signals and an empty signal mask, and output goes to files
/// (no pipe can fill up and stall it) or to a socket the test reads (`Input.channel`).
///
/// ```swift
/// let result = try ChildProcess.run("/usr/bin/env", ["openssl", "version"])   // waits
/// #expect(result.succeeded, "\(result)")
///
/// let browser = try ChildProcess(path: chromium, arguments: arguments, directory: scratch)
/// let page = await browser.wait(timeout: .seconds(60))   // then kills what is left of its group
/// ```
///
/// Confinement: the exit status and the channel are behind a lock, so any thread may ask
/// `isRunning` or wait; one reader and one writer at a time may use the channel.
public final class ChildProcess: @unchecked Sendable {
    /// Where the child's stdin comes from.
    public enum Input: Sendable {
        /// `/dev/null`.
        case null
        /// These bytes (from a file, so the child may read them at its own pace).
        case data(Data)
        /// The socket this process talks to with `send(_:)` and `receive()`; only together with
        /// `Output.channel` for stdout.
        case channel
    }

    /// Where the child's stdout or stderr goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case null
        /// This process's own stream (the test output), as a long-lived helper's stderr.
        case inherit
        /// A private file, read into the `Result` by `wait`.
        case capture
        /// The file at a path, created if missing, appended to or truncated.
        case file(String, append: Bool)
        /// The socket this process reads with `receive()` (stdout only; needs `Input.channel`).
        case channel
        /// Wherever stdout goes (stderr only).
        case sameAsStdout
    }

    /// How a program ended, with what it printed to captured streams.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit status, or nil if a signal ended the program or its time ran out.
        public let exitCode: Int32?
        /// The signal that ended the program, if one did.
        public let signal: Int32?
        /// Whether the time limit ran out and the program was killed.
        public let timedOut: Bool
        /// Everything written to stdout, if captured; else nothing.
        public let standardOutput: Data
        /// Everything written to stderr, if captured; else nothing.
        public let standardError: Data

        /// `standardOutput` as text (invalid UTF-8 replaced).
        public var stdout: String { String(decoding: self.standardOutput, as: UTF8.self) }
        /// `standardError` as text (invalid UTF-8 replaced).
        public var stderr: String { String(decoding: self.standardError, as: UTF8.self) }

        /// Whether the program exited with status 0 in time.
        public var succeeded: Bool { self.exitCode == 0 && !self.timedOut }

        /// The status as a shell reports it: the exit status, or 128 + the signal.
        public var status: Int32 { self.exitCode ?? 128 + (self.signal ?? SIGKILL) }

        /// How it ended, and the end of stderr, for test failure messages.
        public var description: String {
            let how =
                self.timedOut
                ? "timed out" : self.exitCode.map { "exit status \($0)" } ?? "killed by signal \(self.signal ?? 0)"
            return "\(how); stderr ends:\n\(self.stderr.suffix(3000))"
        }
    }

    /// Why a program could not be started or talked to.
    public struct Failure: Error, CustomStringConvertible {
        /// What failed, with errno's text where there is one.
        public let description: String

        /// Creates a failure with the given explanation.
        public init(_ description: String) { self.description = description }
    }

    /// The process id, which is also the id of the process group the child leads.
    public let pid: pid_t
    /// The command line, for messages.
    public let commandLine: [String]

    private struct State {
        /// The raw `waitpid` status once the child has been reaped.
        var waitStatus: Int32?
        /// This side of the `channel` socket, until closed.
        var channel: Int32?
    }

    private let state: Locked<State>
    private let scratch: URL?
    private let stdoutPath: String?
    private let stderrPath: String?

    /// Starts `path` (an absolute path) with `arguments`.
    /// - Parameters:
    ///   - directory: The working directory, if not this process's (the program is then started
    ///     through `/usr/bin/env -C`, which execs it with the same pid).
    ///   - environment: Variables set on top of this process's environment.
    ///   - stdin: Where stdin comes from; `/dev/null` by default.
    ///   - stdout: Where stdout goes; captured by default.
    ///   - stderr: Where stderr goes; captured by default.
    /// - Throws: `Failure` if the program cannot be started.
    public init(
        path: String, arguments: [String] = [], directory: String? = nil, environment: [String: String] = [:],
        stdin: Input = .null, stdout: Output = .capture, stderr: Output = .capture
    ) throws {
        self.commandLine = [path] + arguments
        var needsScratch = false
        if case .data = stdin { needsScratch = true }
        if case .capture = stdout { needsScratch = true }
        if case .capture = stderr { needsScratch = true }
        let scratch = needsScratch ? try TemporaryDirectory(prefix: "sluice-child").url : nil
        self.scratch = scratch
        self.stdoutPath = scratch.map { $0.appendingPathComponent("stdout").path }
        self.stderrPath = scratch.map { $0.appendingPathComponent("stderr").path }

        var channel: (ours: Int32, theirs: Int32)? = nil
        if case .channel = stdin {
            var fds: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
                throw Failure("socketpair: \(String(cString: strerror(errno)))")
            }
            channel = (fds[0], fds[1])
        }
        var started = false
        defer {
            // Their end is the child's business only; ours stays open (in `state`) if the spawn works.
            if let channel { close(channel.theirs) }
            if !started, let channel { close(channel.ours) }
            if !started, let scratch { try? FileManager.default.removeItem(at: scratch) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch stdin {
        case .null:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .data(let data):
            let path = scratch!.appendingPathComponent("stdin").path
            try data.write(to: URL(fileURLWithPath: path))
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .channel:
            posix_spawn_file_actions_adddup2(&actions, channel!.theirs, 0)
        }
        for (fd, output, capturePath) in [(Int32(1), stdout, self.stdoutPath), (2, stderr, self.stderrPath)] {
            switch output {
            case .null:
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .inherit:
                break
            case .capture:
                posix_spawn_file_actions_addopen(&actions, fd, capturePath!, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .file(let path, let append):
                posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
            case .channel:
                guard fd == 1, let channel else { throw Failure("Output.channel is for stdout, with Input.channel") }
                posix_spawn_file_actions_adddup2(&actions, channel.theirs, 1)
            case .sameAsStdout:
                precondition(fd == 2, "Output.sameAsStdout is for stderr")
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            }
        }
        // Nothing else of the test process (sockets, other tests' pipes) may leak into the child.
        // (glibc ignores a close action for a descriptor that was closed in the meantime.)
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
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        // `env -C` changes the working directory, then execs the program (same pid): glibc's
        // posix_spawn_file_actions_addchdir_np is not visible to Swift.
        let executable = directory == nil ? path : "/usr/bin/env"
        let argv: [UnsafeMutablePointer<CChar>?] =
            ((directory.map { ["/usr/bin/env", "-C", $0] } ?? []) + self.commandLine).map { strdup($0) } + [nil]
        var variables: [UnsafeMutablePointer<CChar>?] = []
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            merged.merge(environment) { _, new in new }
            variables = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer {
            for pointer in argv + variables { free(pointer) }
        }
        var pid: pid_t = 0
        let result =
            environment.isEmpty
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            : posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
        guard result == 0 else { throw Failure("posix_spawn \(path) failed: \(String(cString: strerror(result)))") }
        started = true
        self.pid = pid
        self.state = Locked(State(channel: channel?.ours))
    }

    deinit {
        self.closeChannel()
        _ = self.reap(blocking: false)
        if let scratch = self.scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Runs a program to completion and returns how it ended and what it printed (stdout and
    /// stderr captured).
    /// - Parameters:
    ///   - directory: The working directory, if not this process's.
    ///   - environment: Variables set on top of this process's environment.
    ///   - stdin: What the program reads; nothing (`/dev/null`) if nil.
    ///   - timeout: How long it may run before it is killed; nil waits as long as it takes.
    /// - Throws: `Failure` if the program cannot be started.
    public static func run(
        _ path: String, _ arguments: [String] = [], directory: String? = nil, environment: [String: String] = [:],
        stdin: Data? = nil, timeout: Duration? = nil
    ) throws -> Result {
        try ChildProcess(
            path: path, arguments: arguments, directory: directory, environment: environment, stdin: stdin.map { .data($0) } ?? .null
        ).waitBlocking(timeout: timeout)
    }

    // MARK: - Exit

    /// Whether the child still runs (a zombie does not).
    public var isRunning: Bool { !self.hasExited() }

    /// The raw `waitpid` status once the child has exited (it is reaped then), else nil.
    public var waitStatus: Int32? { self.reap(blocking: false) }

    /// How the child ended, e.g. `exit status 1` or `signal 9`, or `still running`.
    public var terminationDescription: String {
        guard let status = self.reap(blocking: false) else { return "still running" }
        if status & 0x7f == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "signal \(status & 0x7f)"
    }

    /// Sends `signal` to the child (not its group), waits up to `timeout` for it to exit, then
    /// SIGKILLs it; reaps it either way.
    public func terminate(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) {
        guard self.isRunning else {
            _ = self.reap(blocking: true)
            return
        }
        kill(self.pid, signal)
        if !Poll.blockingUntil(within: timeout, every: .milliseconds(20), { self.hasExited() }) {
            kill(self.pid, SIGKILL)
        }
        _ = self.reap(blocking: true)
    }

    /// Waits until the program exits or `timeout` passes (then it is killed), kills whatever is
    /// left of its process group (a browser's helper processes), reaps it, and returns how it ended.
    public func wait(timeout: Duration) async -> Result {
        let exited = await Poll.until(within: timeout, every: .milliseconds(50)) { self.hasExited() }
        return self.finish(timedOut: !exited)
    }

    /// `wait(timeout:)` for synchronous code: blocks the calling thread; nil waits as long as it takes.
    public func waitBlocking(timeout: Duration? = nil) -> Result {
        guard let timeout else {
            self.waitForExit()
            return self.finish(timedOut: false)
        }
        let exited = Poll.blockingUntil(within: timeout, every: .milliseconds(20)) { self.hasExited() }
        return self.finish(timedOut: !exited)
    }

    /// Kills the group (the leader is at most a zombie still, so its pid cannot have been reused),
    /// reaps the child and reads what it printed.
    private func finish(timedOut: Bool) -> Result {
        kill(-self.pid, SIGKILL)
        let status = self.reap(blocking: true) ?? -1
        let exited = status & 0x7f == 0
        return Result(
            exitCode: exited && !timedOut ? (status >> 8) & 0xff : nil, signal: exited ? nil : status & 0x7f,
            timedOut: timedOut, standardOutput: self.stdoutPath.flatMap(FileManager.default.contents(atPath:)) ?? Data(),
            standardError: self.stderrPath.flatMap(FileManager.default.contents(atPath:)) ?? Data())
    }

    /// Whether the child has exited, without reaping it (so its pid and group stay reserved).
    private func hasExited() -> Bool {
        self.state.withLock { state in
            guard state.waitStatus == nil else { return true }
            var info = siginfo_t()
            while true {
                if waitid(P_PID, id_t(self.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                    return info.si_signo == SIGCHLD  // Linux zeroes `info` while the child runs
                }
                if errno != EINTR { return true }  // ECHILD: reaped elsewhere; gone either way
            }
        }
    }

    /// Blocks until the child has exited, without reaping it.
    private func waitForExit() {
        var info = siginfo_t()
        while self.state.withLock({ $0.waitStatus == nil }) {
            if waitid(P_PID, id_t(self.pid), &info, WEXITED | WNOWAIT) == 0 || errno != EINTR { return }
        }
    }

    /// Reaps the child if it has exited (or, if `blocking`, once it has) and returns its status.
    private func reap(blocking: Bool) -> Int32? {
        self.state.withLock { state in
            guard state.waitStatus == nil else { return state.waitStatus }
            var status: Int32 = 0
            while true {
                let result = waitpid(self.pid, &status, blocking ? 0 : WNOHANG)
                if result == self.pid {
                    state.waitStatus = status
                } else if result == -1 && errno == EINTR {
                    continue
                } else if result == -1 {
                    state.waitStatus = -1  // ECHILD: reaped elsewhere; it is gone either way.
                }
                return state.waitStatus
            }
        }
    }

    // MARK: - The channel

    /// Writes all of `bytes` to the child's stdin (`Input.channel`).
    /// - Throws: `Failure` if the child has closed its end (it exited) or there is no channel.
    public func send(_ bytes: [UInt8]) throws {
        guard let fd = self.state.withLock({ $0.channel }) else { throw Failure("no channel to \(self.commandLine[0])") }
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a dead child must surface as an error, not kill the test process with SIGPIPE.
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure("writing to \(self.commandLine[0]): \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Reads what the child has written to its stdout (`Output.channel`), waiting for at least one
    /// byte; empty once the child has closed it (exited).
    /// - Throws: `Failure` if reading fails or there is no channel.
    public func receive() throws -> [UInt8] {
        guard let fd = self.state.withLock({ $0.channel }) else { throw Failure("no channel to \(self.commandLine[0])") }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure("reading from \(self.commandLine[0]): \(String(cString: strerror(errno)))") }
            return Array(buffer[0..<n])
        }
    }

    /// Closes this side of the channel: the child reads end-of-file on stdin.
    public func closeChannel() {
        self.state.withLock { state in
            if let fd = state.channel { close(fd) }
            state.channel = nil
        }
    }

    // MARK: - Files

    /// A file's text (invalid UTF-8 replaced), or "" if it cannot be read.
    public static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
