import Foundation
import JobStore
import Locking
import Logging

/// Copies attempts' logs into a shared store (`SharedJobStore.storeLog`) on a thread of its
/// own, so that any host can serve them, also after this host is gone, without the runner thread
/// waiting for the database: running attempts' logs with every lease renewal, and each
/// attempt's final log when it ends. What an attempt wrote after the last copy before its host
/// died is lost with the host (docs/architecture.md, "Several hosts").
final class LogShipper: Sendable {
    /// An attempt whose log is to be stored.
    struct Item: Sendable {
        let jobID: Int64
        let task: String
        let attempt: Int
        let path: String
    }

    private let queue = Locked<(items: [Item], stopped: Bool)>(([], false))
    private let ready = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let logger = Logger(label: "runner")

    /// Starts the thread.
    init(store: any SharedJobStore) {
        let thread = Thread { [queue, ready, done, logger] in
            while true {
                ready.wait()
                let (items, stopped) = queue.withLock { state in
                    defer { state.items.removeAll() }
                    return (state.items, state.stopped)
                }
                for item in items {
                    // Bounded by the supervisor's head and tail caps (plus its omission note).
                    let bytes = FileManager.default.contents(atPath: item.path).map(Array.init) ?? []
                    do { try store.storeLog(jobID: item.jobID, task: item.task, attempt: item.attempt, bytes: bytes) } catch {
                        logger.warning(
                            "cannot copy a task log to the store; other hosts cannot show it",
                            ["job.id": "\(item.jobID)", "task": item.task, "attempt": "\(item.attempt)", "error": "\(error)"])
                    }
                }
                if stopped {
                    done.signal()
                    return
                }
            }
        }
        thread.name = "log-shipper"
        thread.start()
    }

    /// Queues `item` (never blocks).
    func ship(_ item: Item) {
        self.queue.withLock { $0.items.append(item) }
        self.ready.signal()
    }

    /// Ships what is queued, then ends the thread; returns when it has.
    func stop() {
        self.queue.withLock { $0.stopped = true }
        self.ready.signal()
        self.done.wait()
    }
}
