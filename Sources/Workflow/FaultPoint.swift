import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Crash points for the crash-recovery tests: with `SLUICE_FAULT=<point>@<marker file>` in its
/// environment, the process SIGKILLs itself the first time it reaches `<point>`, after creating
/// the marker file (exclusively, so a restarted process with the same environment does not crash
/// again). Without the variable every check is one load of a constant.
///
/// This is how a test kills Sluice at an exact moment — "after the trigger commit, before the
/// answer" — which an external `kill -9` can only hit by luck.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// The trigger's job is committed; the HTTP answer has not been sent. Checked where a store
    /// that reports created jobs hands the job to the runner (right after the commit, before the
    /// runner can start it), and again before the answer.
    case afterTriggerCommit = "after-trigger-commit"
    /// Tasks are committed as `running`; their processes have not been spawned.
    case afterClaim = "after-claim"
    /// Processes are spawned; their pids are not yet recorded.
    case afterSpawn = "after-spawn"
    /// A process has exited; its outcome is not yet committed.
    case duringCompletion = "during-completion"

    private static let armed: (point: FaultPoint, marker: String)? = {
        guard let spec = ProcessInfo.processInfo.environment["SLUICE_FAULT"], let at = spec.firstIndex(of: "@"),
            let point = FaultPoint(rawValue: String(spec[..<at]))
        else { return nil }
        return (point, String(spec[spec.index(after: at)...]))
    }()

    /// Kills this process with SIGKILL if the fault armed in the environment is `self` and has
    /// not fired yet.
    public func check() {
        guard let armed = Self.armed, armed.point == self else { return }
        // O_EXCL: only the first process to get here creates the marker and dies.
        let fd = open(armed.marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        close(fd)
        kill(getpid(), SIGKILL)
    }
}
