import Logging
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The termination, reload and drain signals, taken over from libfcgi.
///
/// Why: `FCGX_Init` installs a SIGTERM handler that only sets a flag, which threads blocked in
/// `accept()` never see, so the process is orphaned whenever lighttpd stops. Instead, these
/// signals are blocked in every thread (the mask is inherited by threads created later) and one
/// thread receives them synchronously with `sigwait`. SIGUSR1 and SIGUSR2 (`sluice drain`) are
/// taken the same way: their default action would kill the process, so they must be blocked
/// before any thread exists, or one arriving early could end Sluice.
///
/// Task processes do not inherit any of this: `TaskProcess` starts them with an empty signal
/// mask and every signal at its default disposition.
public enum ProcessSignals {
    /// The signals received with `sigwait`: SIGTERM and SIGINT (stop), SIGHUP (reload), SIGUSR1
    /// (drain) and SIGUSR2 (drain, then exit once drained).
    public static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]

    /// Blocks the handled signals in the calling thread. Call first thing in `main`, before any
    /// thread is created, so that every thread inherits the mask.
    public static func blockInCurrentThread() {
        var set = self.makeSet()
        // pthread_sigmask fails only with EINVAL for a bad `how`, which SIG_BLOCK is not; if it
        // ever failed, libfcgi's handler would swallow SIGTERM and nothing could stop us cleanly.
        do {
            try errorNumberCall(where: "pthread_sigmask") { pthread_sigmask(SIG_BLOCK, &set, nil) }
        } catch {
            preconditionFailure("cannot block the termination signals: \(error)")
        }
    }

    /// Waits until one of the handled signals arrives and returns its number.
    ///
    /// If `sigwait` fails (only EINVAL for an invalid set is documented, i.e. a bug), the failure
    /// is logged and SIGTERM is returned: retrying would spin on the same error forever, and a
    /// process that can no longer receive SIGTERM should drain and stop now rather than be
    /// orphaned when lighttpd stops.
    public static func wait() -> Int32 {
        do {
            return try self.next()
        } catch {
            Logger(label: "signals").error("sigwait failed; stopping as if SIGTERM had arrived", ["error": "\(error)"])
            return SIGTERM
        }
    }

    /// Waits until one of the handled signals arrives and returns its number.
    ///
    /// - Throws: `SystemCallError` if `sigwait` fails. glibc already repeats EINTR inside
    ///   sigwait; `errorNumberCall` would too.
    static func next() throws(SystemCallError) -> Int32 {
        var set = self.makeSet()
        var signal: Int32 = 0
        try errorNumberCall(where: "sigwait") { sigwait(&set, &signal) }
        return signal
    }

    /// Whether SIGTERM or SIGINT is pending (blocked and not yet taken), without taking it:
    /// for loops that run before `wait()` is reached, such as waiting for the data directory.
    public static func stopPending() -> Bool {
        var pending = sigset_t()
        guard sigpending(&pending) == 0 else { return false }
        return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1
    }

    private static func makeSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in self.handled { sigaddset(&set, s) }
        return set
    }
}
