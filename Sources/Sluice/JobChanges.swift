public import Foundation

/// Tells long-polling requests (`GET /api/v1/jobs/{id}?wait=S`) that a job changed, without a
/// thread per waiting request.
///
/// A waiting request is a watcher: its job, the job's generation when it last looked, a
/// deadline, and what to do when one of them moves (`fire`). The runner calls `notify` after
/// each commit; one thread (started while watchers exist) fires the watchers of changed jobs and
/// those whose deadline passed, on a serial queue, outside the lock. The request itself stays
/// parked in the FastCGI front end (`DeferredResponse`), so 1,000 watchers cost 1,000
/// connections and a few kilobytes each, and no worker thread.
///
/// At most `maxWatchers` wait at once; beyond that `watch` answers `.busy` at once (a 503 with
/// `Retry-After`: a client that re-polls on an instant 304 would spin).
///
/// `@unchecked Sendable`: every mutable field is read and written with `condition` locked (every
/// method locks it first); `maxWatchers` and `fireQueue` are immutable. An `NSCondition` rather
/// than `Locked`, because the watch thread sleeps until a change or the next deadline; it is a
/// pthread mutex and condition variable, which ThreadSanitizer understands.
public final class JobChanges: @unchecked Sendable {
    /// How a wait ended.
    public enum WaitOutcome: Sendable, Equatable {
        /// The job moved past the generation.
        case changed
        /// The deadline passed first.
        case timedOut
        /// Sluice is stopping: nobody waits any more.
        case closed
        /// Too many requests are waiting already; this one did not wait at all. It must not be
        /// answered like a timeout (a client that re-polls on 304 would spin).
        case busy
    }

    private struct Watcher {
        var job: Int64
        var generation: UInt64
        var deadline: Date
        var fire: @Sendable (WaitOutcome) -> Void
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var generations: [Int64: UInt64] = [:]
    /// Changes made elsewhere (another host on a shared store): the notification does not say
    /// which job, so it moves every job's generation.
    private var elsewhere: UInt64 = 0
    private var closed = false
    private var watchers: [UInt64: Watcher] = [:]
    private var watchersByJob: [Int64: Set<UInt64>] = [:]
    private var nextWatcher: UInt64 = 0
    /// Jobs notified since the watch thread last looked; `allChanged` after `notifyAll`.
    private var changedJobs: Set<Int64> = []
    private var allChanged = false
    private var threadRunning = false
    /// Where watchers fire: serially, off the watch thread, so a slow store read delays other
    /// answers but never the timing of deadlines.
    private let fireQueue = DispatchQueue(label: "sluice.job-watch")

    /// Most requests waiting at once.
    public let maxWatchers: Int

    /// Creates a notifier.
    public init(maxWatchers: Int) { self.maxWatchers = max(0, maxWatchers) }

    /// The job's current generation (0 until its first change in this process).
    public func generation(of job: Int64) -> UInt64 {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.current(job)
    }

    /// `job`'s generation: its own changes plus those seen elsewhere. Call with `condition` locked.
    private func current(_ job: Int64) -> UInt64 { (self.generations[job] ?? 0) &+ self.elsewhere }

    /// Records a change of `job` and wakes its watchers.
    public func notify(_ job: Int64) {
        self.condition.lock()
        self.generations[job, default: 0] &+= 1
        if self.watchersByJob[job] != nil {
            self.changedJobs.insert(job)
            self.condition.signal()
        }
        self.condition.unlock()
    }

    /// Records that some jobs may have changed on another host (a shared store's notification):
    /// every watcher looks at its job again.
    public func notifyAll() {
        self.condition.lock()
        self.elsewhere &+= 1
        if !self.watchers.isEmpty {
            self.allChanged = true
            self.condition.signal()
        }
        self.condition.unlock()
    }

    /// Answers every watcher now and refuses new ones (Sluice is stopping).
    public func close() {
        self.condition.lock()
        self.closed = true
        self.condition.signal()
        self.condition.unlock()
    }

    /// Watchers waiting now.
    public var waiting: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.watchers.count
    }

    /// Calls `fire` once `job` moves past `generation`, `deadline` passes, or Sluice stops, on
    /// the watch queue. Returns nil when the watcher waits; otherwise the outcome at once
    /// (`.changed`, `.closed` or `.busy`), and `fire` is never called.
    public func watch(
        job: Int64, after generation: UInt64, until deadline: Date, _ fire: @escaping @Sendable (WaitOutcome) -> Void
    ) -> WaitOutcome? {
        self.condition.lock()
        defer { self.condition.unlock() }
        if self.current(job) != generation { return .changed }
        if self.closed { return .closed }
        guard self.watchers.count < self.maxWatchers else { return .busy }
        let id = self.nextWatcher
        self.nextWatcher &+= 1
        self.watchers[id] = Watcher(job: job, generation: generation, deadline: deadline, fire: fire)
        self.watchersByJob[job, default: []].insert(id)
        if self.threadRunning {
            // It may be sleeping until a later deadline than this one.
            self.condition.signal()
        } else {
            self.threadRunning = true
            let thread = Thread { [self] in self.run() }
            thread.name = "job-watch"
            thread.start()
        }
        return nil
    }

    /// The watch thread: sleeps until a notification, a deadline or `close`, takes the watchers
    /// that are due, and fires them on `fireQueue`. Ends when no watcher is left (a later
    /// `watch` starts it again), so an idle app holds no thread and tests' apps go away.
    private func run() {
        self.condition.lock()
        while true {
            if self.watchers.isEmpty {
                self.threadRunning = false
                self.condition.unlock()
                return
            }
            let now = Date()
            var due: [(Watcher, WaitOutcome)] = []
            var earliest = Date.distantFuture
            if self.closed {
                due = self.watchers.values.map { ($0, .closed) }
                self.watchers.removeAll()
                self.watchersByJob.removeAll()
            } else {
                let candidates: [UInt64] =
                    self.allChanged
                    ? Array(self.watchers.keys) : self.changedJobs.flatMap { self.watchersByJob[$0] ?? [] }
                self.allChanged = false
                self.changedJobs.removeAll()
                for id in candidates {
                    guard let watcher = self.watchers[id], self.current(watcher.job) != watcher.generation else { continue }
                    due.append((watcher, .changed))
                    self.remove(id, job: watcher.job)
                }
                for (id, watcher) in self.watchers {
                    if watcher.deadline <= now {
                        due.append((watcher, .timedOut))
                        self.remove(id, job: watcher.job)
                    } else if watcher.deadline < earliest {
                        earliest = watcher.deadline
                    }
                }
            }
            if !due.isEmpty {
                self.condition.unlock()
                for (watcher, outcome) in due {
                    let fire = watcher.fire
                    self.fireQueue.async { fire(outcome) }
                }
                self.condition.lock()
                continue
            }
            if self.changedJobs.isEmpty && !self.allChanged && !self.closed {
                _ = self.condition.wait(until: earliest)
            }
        }
    }

    /// Forgets watcher `id` of `job`. Call with `condition` locked.
    private func remove(_ id: UInt64, job: Int64) {
        self.watchers[id] = nil
        self.watchersByJob[job]?.remove(id)
        if self.watchersByJob[job]?.isEmpty == true { self.watchersByJob[job] = nil }
    }
}
