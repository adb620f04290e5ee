internal import CSpawn
public import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Everything one task attempt's supervisor needs, and the `posix_spawn` that starts it.
///
/// The supervisor (`sluice-supervisor`, see docs/supervisor.md) starts in a new session, so
/// neither a signal to Sluice's process group nor the end of Sluice's session reaches it: it and
/// its task outlive Sluice. Sluice keeps a pidfd to watch it and to signal it.
public struct SupervisorLaunch: Sendable {
    /// The `sluice-supervisor` executable.
    public var executable: String
    /// The attempt's run key (`ProcessIdentity.runKey`), also in `environment` as `SLUICE_RUN_KEY`.
    public var runKey: String
    /// The attempt's log file.
    public var logPath: String
    /// The job's status journal, to which the supervisor appends the attempt's outcome
    /// (`StatusJournal`, `SupervisorStatus`).
    public var journalPath: String
    /// Bytes of output kept from the start and from the end.
    public var headBytes: Int
    /// Bytes of output kept from the end.
    public var tailBytes: Int
    /// Seconds between SIGTERM and SIGKILL when the supervisor stops the task (cancel, timeout,
    /// or Sluice stopping its tasks).
    public var gracePeriod: Double
    /// Seconds after which the supervisor stops the task as timed out; nil: no limit.
    public var timeout: Double?
    /// The task's working directory.
    public var workingDirectory: String
    /// The resolved executable (an absolute path, `TaskProcess.resolve`).
    public var program: String
    /// The task's argv as configured (argv[0] included).
    public var argv: [String]
    /// The task's complete environment.
    public var environment: [String: String]

    /// Describes a launch; `start()` performs it.
    public init(
        executable: String, runKey: String, logPath: String, journalPath: String, headBytes: Int, tailBytes: Int,
        gracePeriod: Double, timeout: Double?, workingDirectory: String, program: String, argv: [String],
        environment: [String: String]
    ) {
        self.executable = executable
        self.runKey = runKey
        self.logPath = logPath
        self.journalPath = journalPath
        self.headBytes = headBytes
        self.tailBytes = tailBytes
        self.gracePeriod = gracePeriod
        self.timeout = timeout
        self.workingDirectory = workingDirectory
        self.program = program
        self.argv = argv
        self.environment = environment
    }

    /// The supervisor's argv (after its own name), as docs/supervisor.md defines it.
    public var arguments: [String] {
        var arguments = [
            "--run-key", self.runKey, "--log", self.logPath, "--journal", self.journalPath, "--head", String(self.headBytes), "--tail",
            String(self.tailBytes), "--grace", Self.decimal(self.gracePeriod),
        ]
        if let timeout = self.timeout { arguments += ["--timeout", Self.decimal(timeout)] }
        arguments += ["--cwd", self.workingDirectory, "--", self.program]
        return arguments + self.argv
    }

    /// `value` in the plain decimal form the supervisor parses (no exponent).
    static func decimal(_ value: Double) -> String { String(format: "%.3f", max(0, value)) }

    /// Where the supervisor is installed: `$SLUICE_SUPERVISOR` if set, else `sluice-supervisor`
    /// next to the running executable (both are built and installed together).
    public static func defaultExecutable(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["SLUICE_SUPERVISOR"], !path.isEmpty { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        let directory = (executable as NSString).deletingLastPathComponent
        return (directory.isEmpty ? "." : directory) + "/sluice-supervisor"
    }

    /// Starts the supervisor: a new session, stdin and stdout on /dev/null, stderr shared with
    /// Sluice (where the supervisor's own rare diagnostics go), no other descriptor, an empty
    /// signal mask and every signal at its default.
    ///
    /// - Returns: the running supervisor with a pidfd (-1 before Linux 5.3).
    /// - Throws: `TaskProcess.SpawnError` if it cannot be started (then nothing runs).
    public func start() throws(TaskProcess.SpawnError) -> SupervisedProcess {
        let context = "cannot start the task supervisor \(self.executable)"
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        // posix_spawn(3): these calls return 0 or an error number and leave errno alone; each is
        // checked, and destroy is only called on what init set up.
        do {
            try errorNumberCall(where: "posix_spawn_file_actions_init") { posix_spawn_file_actions_init(&actions) }
        } catch {
            throw .init(context, cause: error)
        }
        defer { posix_spawn_file_actions_destroy(&actions) }
        do {
            try errorNumberCall(where: "posix_spawnattr_init") { posix_spawnattr_init(&attributes) }
        } catch {
            throw .init(context, cause: error)
        }
        defer { posix_spawnattr_destroy(&attributes) }
        do {
            try errorNumberCall(where: "posix_spawn_file_actions_addopen") {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            try errorNumberCall(where: "posix_spawn_file_actions_addopen") {
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            }
            // libfcgi accepts connections without O_CLOEXEC: close everything above stderr, so a
            // supervisor never holds a client connection or the FastCGI socket open.
            try errorNumberCall(where: "posix_spawn_file_actions_addclosefrom_np") { cspawn_file_actions_addclosefrom(&actions, 3) }
            try Self.configure(&attributes)
        } catch {
            throw .init(context, cause: error)
        }
        let cArgv = ([self.executable] + self.arguments).map { strdup($0) } + [nil]
        let cEnv =
            self.environment.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        // Never repeated on EINTR: a spawn is not idempotent.
        let rc = posix_spawn(&pid, self.executable, &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else { throw .init(context, errno: rc, function: "posix_spawn") }
        // Not reaped yet, so the pid cannot have been reused: the pidfd names our supervisor.
        let pidFD = (try? syscall(where: "pidfd_open") { cspawn_pidfd_open(pid) }) ?? -1
        return SupervisedProcess(pid: pid, pidFD: pidFD, isChild: true)
    }

    /// A new session (`setsid` in the child), no blocked signal, every signal at its default.
    private static func configure(_ attributes: inout posix_spawnattr_t) throws(SystemCallError) {
        // Sluice blocks SIGTERM/SIGINT/SIGHUP in every thread to sigwait on them, and the mask
        // survives exec.
        var empty = sigset_t()
        sigemptyset(&empty)
        try errorNumberCall(where: "posix_spawnattr_setsigmask") { posix_spawnattr_setsigmask(&attributes, &empty) }
        // Every bit, not sigfillset: glibc leaves out its internal signals 32 and 33, which
        // posix_spawn would then set to SIG_IGN in the child; the child skips what cannot be
        // changed (SIGKILL, SIGSTOP), so the full set is accepted.
        var everySignal = sigset_t()
        withUnsafeMutableBytes(of: &everySignal) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0xff) }
        try errorNumberCall(where: "posix_spawnattr_setsigdefault") { posix_spawnattr_setsigdefault(&attributes, &everySignal) }
        // POSIX_SPAWN_SETSID (glibc 2.26+): the child calls setsid(), leaving Sluice's session
        // and process group, so whatever stops Sluice's group (lighttpd, a terminal's Ctrl-C,
        // systemd's KillMode=mixed) does not reach the supervisor.
        let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | cspawn_posix_spawn_setsid()
        try errorNumberCall(where: "posix_spawnattr_setflags") { posix_spawnattr_setflags(&attributes, Int16(flags)) }
    }
}
