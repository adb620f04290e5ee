internal import CSpawn
import Foundation
public import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// One thread that waits for many supervisors to exit, with epoll over their pidfds, and
/// reports each exit once through a callback.
///
/// One thread for all of them, not one per task: after a restart a thousand running tasks are
/// re-adopted at once, and a thread each would cost a thousand stacks. A pidfd becomes readable
/// when its process exits and stays so; each is registered `EPOLLONESHOT`, so it is reported
/// exactly once and the watcher never touches it again: the caller closes it (closing removes
/// it from the epoll set).
public final class ExitWatcher: Sendable {
    private let epoll: Int32
    private let wakeFD: Int32
    private let onExit: @Sendable (UInt64) -> Void
    private let finished = DispatchSemaphore(value: 0)

    /// Why the watcher could not be set up.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        /// The failed system call.
        public let cause: SystemCallError
        public var description: String { "cannot watch task supervisors: \(self.cause)" }
    }

    /// Token reserved for the wake-up descriptor.
    private static let wakeToken = UInt64.max

    /// Starts the watcher thread; `onExit` is called on it with the token of each exited process.
    /// - Throws: `SetupError` if epoll or eventfd cannot be created (EMFILE, ENOMEM).
    public init(onExit: @escaping @Sendable (UInt64) -> Void) throws(SetupError) {
        let epoll: Int32
        let wakeFD: Int32
        do {
            epoll = try syscall(where: "epoll_create1") { cspawn_epoll_create() }
        } catch {
            throw SetupError(cause: error)
        }
        do {
            wakeFD = try syscall(where: "eventfd") { cspawn_eventfd() }
        } catch {
            try? Posix.close(epoll)
            throw SetupError(cause: error)
        }
        do {
            try syscall(where: "epoll_ctl") { cspawn_epoll_add(epoll, wakeFD, Self.wakeToken) }
        } catch {
            try? Posix.close(wakeFD)
            try? Posix.close(epoll)
            throw SetupError(cause: error)
        }
        self.epoll = epoll
        self.wakeFD = wakeFD
        self.onExit = onExit
        let thread = Thread { [epoll, onExit, finished] in
            Self.run(epoll: epoll, onExit: onExit)
            finished.signal()
        }
        thread.name = "supervisor-exits"
        thread.start()
    }

    /// Watches `process` until it exits, then calls `onExit(token)`. A process that has already
    /// exited is reported at once. Without a pidfd (a kernel before 5.3) nothing can be watched:
    /// returns false and the caller must poll.
    @discardableResult
    public func watch(_ process: SupervisedProcess, token: UInt64) -> Bool {
        precondition(token != Self.wakeToken)
        guard process.pidFD >= 0 else { return false }
        return (try? syscall(where: "epoll_ctl") { cspawn_epoll_add(self.epoll, process.pidFD, token) }) != nil
    }

    /// Stops the thread and closes the epoll descriptor. Pidfds still watched stay open: they
    /// belong to the caller. Call once.
    public func stop() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(self.wakeFD, $0.baseAddress, 8) }
        self.finished.wait()
        try? Posix.close(self.wakeFD)
        try? Posix.close(self.epoll)
    }

    private static func run(epoll: Int32, onExit: @Sendable (UInt64) -> Void) {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let n: Int32
            do {
                // EINTR is retried inside `syscall`.
                n = try syscall(where: "epoll_wait") { cspawn_epoll_wait(epoll, &tokens, Int32(tokens.count), -1) }
            } catch {
                return  // EBADF/EINVAL: the descriptor is gone; nothing sensible is left to do
            }
            for token in tokens[..<Int(n)] {
                if token == Self.wakeToken { return }
                onExit(token)
            }
        }
    }
}
