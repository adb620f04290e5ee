#if canImport(Glibc)
    import Glibc
#endif

// The one place where Sluice turns C error conventions into Swift errors, after swift-nio's
// `syscall(blocking:where:_:)` (Sources/NIOPosix/System.swift): read errno right after the call,
// retry EINTR, stop on errnos that can only mean a bug on our side, throw everything else.

/// Calls `body`, a system call that returns -1 and sets `errno` on failure (`read`, `waitpid`,
/// `poll`, `mkdir`, `pipe2`, ...), again for as long as it fails with EINTR, and returns its first
/// other result.
///
/// EINTR means a signal handler ran before the call could finish (or, for `poll`, before the
/// timeout). Nothing happened, so the call is repeated. Do not use this for `close`: see
/// `Posix.close(_:)`.
///
/// Keep `body` to the call itself (and the conversions of its arguments): `errno` is read as
/// soon as it returns, before anything else can overwrite it.
///
/// - Parameters:
///   - function: the call's name, for the error.
///   - body: the call.
/// - Returns: `body`'s result, never -1.
/// - Throws: `SystemCallError` with `function` and `errno` for any failure but EINTR.
@inline(__always)
@discardableResult
public func syscall<Result: FixedWidthInteger>(where function: String, _ body: () -> Result) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        guard result == -1 else { return result }
        let error = errno
        if error == EINTR { continue }
        preconditionIsNotUnacceptableErrno(error, in: function)
        throw SystemCallError(function: function, errno: error)
    }
}

/// Calls `body`, a function that returns 0 on success or an error number on failure without
/// touching `errno` (the `posix_spawn_*` and `posix_spawnattr_*` families, `pthread_sigmask`,
/// `sigwait`), again for as long as it returns EINTR.
///
/// Do not use this for `posix_spawn` itself: a spawn is not known to be undone by a failure, so
/// it is never repeated.
///
/// - Parameters:
///   - function: the call's name, for the error.
///   - body: the call.
/// - Throws: `SystemCallError` with `function` and the returned number, for any result but 0
///   and EINTR.
@inline(__always)
public func errorNumberCall(where function: String, _ body: () -> Int32) throws(SystemCallError) {
    while true {
        let result = body()
        if result == 0 { return }
        if result == EINTR { continue }
        preconditionIsNotUnacceptableErrno(result, in: function)
        throw SystemCallError(function: function, errno: result)
    }
}

/// Stops on EFAULT: the kernel was handed a bad pointer, which only a bug in Sluice can do, and
/// carrying on after a wild pointer would be worse than stopping (swift-nio does the same).
@inline(__always)
func preconditionIsNotUnacceptableErrno(_ error: Int32, in function: String) {
    precondition(error != EFAULT, "unacceptable errno \(error) (\(String(cString: strerror(error)))) in \(function)")
}
