import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the Linux process table and polls for conditions with a deadline.
///
/// Zombies count as gone: a grandchild reparented to a container's PID 1 may never be reaped.
enum ProcessProbe {
    struct Status {
        let pid: pid_t
        let state: Character
        let processGroup: pid_t
    }

    static func status(of pid: pid_t) -> Status? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count >= 3, let state = fields[0].first, let group = pid_t(fields[2]) else { return nil }
        return Status(pid: pid, state: state, processGroup: group)
    }

    /// Whether `pid` exists and has not exited.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let status = self.status(of: pid) else { return false }
        return status.state != "Z" && status.state != "X"
    }

    /// Living (non-zombie) members of process group `group`.
    static func livingMembers(ofGroup group: pid_t) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.filter { pid in
            guard let status = self.status(of: pid) else { return false }
            return status.processGroup == group && status.state != "Z" && status.state != "X"
        }
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    static func eventually(within timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    /// A pid that certainly belongs to no process right now: a child that has been reaped.
    static func deadPID() throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, "/bin/true", nil, nil, argv, nil)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return pid
    }
}
