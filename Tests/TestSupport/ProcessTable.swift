public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Read-only views of the Linux process table (`/proc`): process states, groups, command lines.
///
/// Zombies count as gone everywhere: a process whose parent exits (`sluice` when lighttpd stops, a
/// task's grandchild) is reparented to an init (or a container's PID 1) that may never reap it, so
/// `kill(pid, 0)` alone would keep reporting it as alive.
public enum ProcessTable {
    /// One `/proc/<pid>/stat` record, reduced to the fields the tests use.
    public struct Status: Sendable {
        /// The process id.
        public let pid: pid_t
        /// The one-letter state (`R`, `S`, `Z`, ...).
        public let state: Character
        /// The parent process id.
        public let parent: pid_t
        /// The process group id.
        public let processGroup: pid_t

        /// Whether the process has exited (a zombie or a dead entry still being torn down).
        public var hasExited: Bool { self.state == "Z" || self.state == "X" }
    }

    /// All pids currently listed in `/proc`.
    public static func allProcessIDs() -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }
    }

    /// The parsed `/proc/<pid>/stat`, or nil if the process no longer exists.
    public static func status(of pid: pid_t) -> Status? {
        guard let bytes = self.read("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        // The command name is in parentheses and may itself contain spaces or ')': split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count >= 3, let state = fields[0].first, let parent = pid_t(fields[1]),
            let group = pid_t(fields[2])
        else { return nil }
        return Status(pid: pid, state: state, parent: parent, processGroup: group)
    }

    /// Whether `pid` is gone: not in `/proc`, or a zombie.
    public static func isGone(_ pid: pid_t) -> Bool {
        guard let status = self.status(of: pid) else { return true }
        return status.hasExited
    }

    /// The argv of a process, or nil if it is gone or unreadable.
    public static func commandLine(of pid: pid_t) -> [String]? {
        guard let bytes = self.read("/proc/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The current working directory of a process, or nil if it is gone or unreadable.
    public static func workingDirectory(of pid: pid_t) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/\(pid)/cwd", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Living (non-zombie) processes whose argv contains `argument` as a whole element.
    public static func livingProcessIDs(withArgument argument: String) -> [pid_t] {
        self.allProcessIDs().filter { pid in
            pid != getpid() && !self.isGone(pid) && (self.commandLine(of: pid)?.contains(argument) ?? false)
        }
    }

    /// Living (non-zombie) processes that belong to `directory`: their working directory is in it,
    /// or one of their arguments names a path in it (a supervisor's `--log`, a task's script
    /// arguments). How a test finds whatever its runners started there.
    public static func livingProcessIDs(under directory: String) -> [pid_t] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        func inside(_ path: String) -> Bool { path == directory || path.hasPrefix(prefix) }
        return self.allProcessIDs().filter { pid in
            guard pid != getpid(), !self.isGone(pid) else { return false }
            if let cwd = self.workingDirectory(of: pid), inside(cwd) { return true }
            return self.commandLine(of: pid)?.contains(where: inside) ?? false
        }
    }

    /// Living (non-zombie) members of a process group.
    ///
    /// `kill(-pgid, 0)` failing with `ESRCH` proves the group is empty; if it succeeds, the group may
    /// still hold only unreaped zombies, so `/proc` decides.
    public static func livingMembers(ofProcessGroup group: pid_t) -> [pid_t] {
        if kill(-group, 0) != 0 && errno == ESRCH { return [] }
        return self.allProcessIDs().filter { pid in
            guard let status = self.status(of: pid) else { return false }
            return status.processGroup == group && !status.hasExited
        }
    }

    /// A pid that certainly belongs to no process right now: that of a child that has been reaped.
    /// - Throws: `POSIXError` if `/bin/true` cannot be started.
    public static func deadProcessID() throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, "/bin/true", nil, nil, argv, nil)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return pid
    }

    /// Reads a whole file with `read(2)`; `/proc` files report size 0, so no `stat`-sized read.
    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result += buffer[0..<n]
            } else if n == 0 {
                return result
            } else if errno != EINTR {
                return nil
            }
        }
    }
}
