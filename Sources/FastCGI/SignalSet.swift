#if canImport(Glibc)
    import Glibc
#endif

/// The termination and reload signals, taken over from libfcgi.
///
/// Why: `FCGX_Init` installs a SIGTERM handler that only sets a flag, which threads blocked in
/// `accept()` never see, so the process is orphaned whenever lighttpd stops. Instead, these
/// signals are blocked in every thread (the mask is inherited by threads created later) and one
/// thread receives them synchronously with `sigwait`.
public enum ProcessSignals {
    /// The signals received with `sigwait`: SIGTERM, SIGINT, SIGHUP.
    public static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    /// Blocks the handled signals in the calling thread. Call first thing in `main`, before any
    /// thread is created, so that every thread inherits the mask.
    public static func blockInCurrentThread() {
        var set = self.makeSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits until one of the handled signals arrives and returns its number.
    public static func wait() -> Int32 {
        var set = self.makeSet()
        var signal: Int32 = 0
        while true {
            let rc = sigwait(&set, &signal)
            if rc == 0 { return signal }
        }
    }

    private static func makeSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in self.handled { sigaddset(&set, s) }
        return set
    }
}
