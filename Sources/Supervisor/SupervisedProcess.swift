internal import CSpawn
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// A running task supervisor, started by this process (`SupervisorLaunch.start()`) or adopted
/// from an earlier Sluice process (`adopt(pid:)`), and a pidfd that refers to it.
///
/// The pidfd is what makes signalling safe: it names this process even after its pid was freed
/// and reused, and polls readable once the process has exited. Whoever holds the value owns the
/// descriptor and closes it once with `close()`.
public struct SupervisedProcess: Sendable, Equatable {
    /// The supervisor's pid (also its session and process-group id).
    public let pid: Int32
    /// A pidfd for it, or -1 if the kernel has none (before Linux 5.3).
    public let pidFD: Int32
    /// Whether this process started it (and so must reap it once it exits).
    public let isChild: Bool

    /// Wraps a supervisor and its pidfd.
    public init(pid: Int32, pidFD: Int32, isChild: Bool) {
        self.pid = pid
        self.pidFD = pidFD
        self.isChild = isChild
    }

    /// Opens a pidfd for a supervisor some earlier process started. Check the process's
    /// identity (`ProcessIdentity`) *after* this returns: from then on the pidfd pins the
    /// process, so a check that passes cannot be fooled by a later pid reuse.
    /// - Returns: nil if the process is gone (ESRCH) or no pidfd can be opened.
    public static func adopt(pid: Int32) -> SupervisedProcess? {
        guard pid > 1, let fd = try? syscall(where: "pidfd_open", { cspawn_pidfd_open(pid) }) else { return nil }
        return SupervisedProcess(pid: pid, pidFD: fd, isChild: false)
    }

    /// Sends `signal` to the supervisor (SIGTERM: stop the task, SIGTERM to its group, SIGKILL
    /// after the grace period). Returns false once it has exited and been reaped (the kernel still
    /// accepts signals for a zombie, which ignores them).
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        if self.pidFD >= 0 { return cspawn_pidfd_send_signal(self.pidFD, signal) == 0 }
        // No pidfd (old kernel): a child not yet reaped cannot have had its pid reused.
        return self.isChild && kill(self.pid, signal) == 0
    }

    /// Reaps the supervisor if this process started it (no zombie is left) and closes the pidfd.
    public func close() {
        if self.isChild { TaskProcess.reapIfExited(self.pid) }
        if self.pidFD >= 0 { try? Posix.close(self.pidFD) }
    }
}
