import Foundation
import Locking

/// A thread that runs a body again and again until stopped, sleeping between runs for as long as
/// the body asks or until `wake()`: what the scheduler and the chain dispatcher run on.
final class BackgroundLoop: Sendable {
    private let stopped = Locked(false)
    private let wakeUp = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name`. `body` returns how many seconds to sleep before it runs
    /// again (0 or less: at once).
    func start(name: String, _ body: @escaping @Sendable () -> TimeInterval) {
        let thread = Thread { [self] in
            while !self.stopped.withLock({ $0 }) {
                let sleep = body()
                if sleep > 0 { _ = self.wakeUp.wait(timeout: .now() + sleep) }
            }
            self.exited.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Ends the current sleep: the body runs again now.
    func wake() { self.wakeUp.signal() }

    /// Stops the thread after the run in progress, waiting for it at most `timeout` seconds (so
    /// nothing it submits is still being submitted while the server stops).
    func stop(timeout: TimeInterval) {
        self.stopped.withLock { $0 = true }
        self.wakeUp.signal()
        _ = self.exited.wait(timeout: .now() + timeout)
    }
}
