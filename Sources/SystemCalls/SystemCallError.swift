#if canImport(Glibc)
    import Glibc
#endif

/// A failed system or libc call: which function, and the `errno` it reported.
///
/// Modelled on swift-nio's `IOError`: the number is kept so callers can branch on it (ENOENT,
/// EACCES, ...), and the description spells it out with `strerror` for logs and task messages.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call that failed, e.g. `"waitpid"` or `"posix_spawn"`.
    public let function: String
    /// The error number: `errno` after a call that returned -1, or the value returned by a call
    /// that reports errors as its result (`posix_spawn`, `pthread_sigmask`, `sigwait`, ...).
    public let errno: Int32

    /// An error of `function` with error number `errno`.
    public init(function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }

    /// The system's text for `errno`, e.g. "No such file or directory".
    public var message: String {
        // glibc 2.32 and later return a static string for every known number and format unknown
        // ones into a per-thread buffer, so strerror is safe to call from any thread here.
        String(cString: strerror(self.errno))
    }

    /// "`function` failed: `message` (errno N)", e.g. "chdir failed: No such file or directory (errno 2)".
    public var description: String { "\(self.function) failed: \(self.message) (errno \(self.errno))" }
}
