public import Foundation
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// Runs code under a umask of its own without touching the umask of the test process: tests run
/// in parallel, and `umask` is process-wide, so setting and restoring it around a test would race
/// with every other test that creates a file.
public enum PrivateUmask {
    /// Why the private umask could not be set up.
    public struct Failure: Error, CustomStringConvertible {
        /// What failed, with errno's text.
        public let description: String
    }

    /// Runs `body` on a new thread whose umask alone is `mask`, waits for it, and returns what
    /// `body` returned or rethrows what it threw.
    public static func run<T: Sendable>(_ mask: mode_t, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = Locked<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let result = Result { () throws -> T in
                try Self.unshareFilesystemContext()
                umask(mask)  // umask cannot fail; it returns the previous mask
                return try body()
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.start()
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// `unshare(CLONE_FS)`: the calling thread gets its own copy of cwd, root and umask, so a
    /// `umask()` call afterwards changes no other thread. The thread ends right after `body`, and
    /// its copy with it. Glibc's Swift module hides `unshare` (it needs `_GNU_SOURCE`), hence
    /// `dlsym`; 0x200 is `CLONE_FS` from <linux/sched.h>, which Swift does not import either.
    private static func unshareFilesystemContext() throws {
        typealias Unshare = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(nil, "unshare") else { throw Failure(description: "libc has no unshare") }
        guard unsafeBitCast(symbol, to: Unshare.self)(0x200) == 0 else {
            throw Failure(description: "unshare(CLONE_FS): \(String(cString: strerror(errno)))")
        }
    }
}
