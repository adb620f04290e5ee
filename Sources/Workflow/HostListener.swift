import Foundation
import JobStore
import Locking
import Logging

/// A thread that waits for a shared store's change notifications (`JobStoreListener`) and
/// wakes the runner for each, so that a job triggered, cancelled or finished on another host is
/// looked at within milliseconds. If the listener's connection fails it is made again a second
/// later; notifications lost meanwhile are covered by the runner's slow poll.
final class HostListener: Sendable {
    private let stopped = Locked(false)
    private let logger = Logger(label: "runner")

    /// Starts the thread: `wake` is called (on that thread) with what each notification said
    /// (everything after the listener was made again: anything may have happened meanwhile).
    init(store: any SharedJobStore, wake: @escaping @Sendable (StoreChanges) -> Void) {
        let thread = Thread { [stopped, logger] in
            var listener: (any JobStoreListener)? = nil
            var failing = false
            while !stopped.withLock({ $0 }) {
                do {
                    if listener == nil {
                        listener = try store.makeProgressListener()
                        // Anything may have happened while there was no listener.
                        wake([.claimable, .progress])
                        if failing { logger.info("listening for other hosts' changes again") }
                        failing = false
                    }
                    // Bounded, so that `stop()` is seen within a second.
                    let changes = try listener!.waitForChanges(timeout: .seconds(1))
                    if !changes.isEmpty { wake(changes) }
                } catch {
                    listener?.close()
                    listener = nil
                    if !failing { logger.warning("cannot listen for other hosts' changes; polling", ["error": "\(error)"]) }
                    failing = true
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            listener?.close()
        }
        thread.name = "host-listener"
        thread.start()
    }

    /// Ends the thread within about a second.
    func stop() { self.stopped.withLock { $0 = true } }
}
