#if canImport(Glibc)
    import Glibc
#endif

/// System calls whose error handling differs from the general rule in `syscall(where:_:)`.
public enum Posix {
    /// Closes `descriptor`, never retrying.
    ///
    /// Why no retry on EINTR: Linux releases the descriptor before close can be interrupted, so
    /// after EINTR it is already closed, and a second close could close a descriptor that
    /// another thread has just been given under the same number. EINTR therefore counts as
    /// success (swift-nio's `Posix.close` does the same; see https://lwn.net/Articles/576478/).
    ///
    /// - Throws: `SystemCallError` for EBADF (not open: a bug on our side) or EIO (a write-back
    ///   error on some file systems). Either way the descriptor is gone; callers that are merely
    ///   cleaning up ignore it with `try?`.
    public static func close(_ descriptor: Int32) throws(SystemCallError) {
        guard Glibc.close(descriptor) == -1 else { return }
        let error = errno
        if error == EINTR { return }
        throw SystemCallError(function: "close", errno: error)
    }
}
