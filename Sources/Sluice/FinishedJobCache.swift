import JobStore
import Locking

/// What a `FinishedJobCache` keeps of one finished job: anything derived from the job alone, with
/// the stamp it was derived at.
protocol FinishedJobEntry: Sendable {
    /// The job's stamp when the entry was made.
    var stamp: JobStamp { get }
    /// What the entry counts against the cache's budget (bytes, tasks: the cache's unit).
    var cost: Int { get }
    /// The job's pipeline and parameters: what authorizing a hit needs.
    var pipeline: String { get }
    var params: [String: String] { get }
}

/// Representations of finished jobs, kept so that a job of thousands of tasks is not read and
/// written again for every poll or view of it (issue 15: the 1,000-task job's JSON cost 5 ms of
/// CPU; issue 16: reading a 100,000-task job costs a quarter of a second).
///
/// Only finished jobs are kept, keyed by id and checked against the store's stamp of the job on
/// every use (`JobStore.jobStamp(id:)`: one row, no tasks): a retry makes the job queued again,
/// another host's retry included, so a changed stamp means a miss and a fresh read. Entries hold
/// what authorization needs (pipeline and parameters), so a hit is authorized exactly as a read
/// would be. Bounded by entries and by total cost; the oldest insertion goes first.
final class FinishedJobCache<Entry: FinishedJobEntry>: Sendable {
    private struct State {
        var entries: [Int64: Box] = [:]
        var order: [Int64] = []
        var head = 0
        var cost = 0
    }

    /// The entries, their insertion order and total cost: what `store` changes, under one lock.
    private let state = Locked(State())
    /// What `entry(id:)` reads: a copy of `state.entries` per thread stripe, replaced whole by
    /// every `store`. Why not the one lock: every request for a job takes it, and 16 connections
    /// asking for the same job (watchers of one job do) kept 8 threads on 2 cores queueing on
    /// it; with libfcgi's lingering close skipped, a profile found a quarter of the CPU in that
    /// lock's futex. Stores are rare (once per finished job and version), reads are not.
    private let snapshot: Striped<[Int64: Box]> = Striped([:])
    /// The most entries kept.
    let maxEntries: Int
    /// The most cost kept, over all entries.
    let maxCost: Int

    /// Creates an empty cache.
    init(maxEntries: Int = 512, maxCost: Int = 32 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxCost = max(1, maxCost)
    }

    /// An entry by reference: taken out with one retain, where the entry itself (strings, a
    /// dictionary, the body) was copied field by field while other threads waited (2 % of a
    /// job's JSON at 16 connections, all of them asking for the same job).
    private final class Box: Sendable {
        let entry: Entry
        init(_ entry: Entry) { self.entry = entry }
    }

    /// The entry for job `id`, if there is one (the caller compares its stamp with the store's).
    func entry(id: Int64) -> Entry? { self.snapshot.value[id]?.entry }

    /// Keeps `entry` for job `id` if the job is finished (else nothing), replacing an older one.
    func store(id: Int64, _ entry: Entry) {
        guard entry.stamp.state.isTerminal, entry.cost <= self.maxCost else { return }
        self.state.withLock { state in
            if let old = state.entries.updateValue(Box(entry), forKey: id) {
                state.cost -= old.entry.cost
            } else {
                state.order.append(id)
            }
            state.cost += entry.cost
            while state.entries.count > self.maxEntries || state.cost > self.maxCost, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let gone = state.entries.removeValue(forKey: oldest) { state.cost -= gone.entry.cost }
            }
            // Compact the order list now and then, so it does not grow without bound.
            if state.head > 1024 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            // Published under the state's lock, so two stores publish in the order they changed
            // the state: the last published copy is always the current one.
            self.snapshot.replace(with: state.entries)
        }
    }

    /// How many entries are kept, and their total cost (for tests).
    var size: (entries: Int, cost: Int) { self.state.withLock { ($0.entries.count, $0.cost) } }
}

/// A finished job's JSON, as `GET /api/v1/jobs/{id}` answers it under one mount path.
struct FinishedJobJSON: FinishedJobEntry {
    let stamp: JobStamp
    /// The mount path the links in `body` use.
    let mountPath: String
    let pipeline: String
    let params: [String: String]
    let body: [UInt8]
    let tag: String
    /// Its bytes.
    var cost: Int { self.body.count }
}

/// A large finished job as read from the store, with each task's layer in its graph: what its
/// page is drawn from (the page itself depends on the viewer).
struct FinishedJobRecord: FinishedJobEntry {
    let job: JobRecord
    /// Each task's layer (`JobGraphs.layers`).
    let layers: [Int]
    let stamp: JobStamp
    /// About the bytes it holds: each task's strings plus a fixed share for the rest of it.
    let cost: Int
    var pipeline: String { self.job.pipeline }
    var params: [String: String] { self.job.params }

    /// Keeps `job` with its `layers`.
    init(job: JobRecord, layers: [Int]) {
        self.job = job
        self.layers = layers
        self.stamp = JobStamp(of: job)
        self.cost = job.tasks.reduce(0) { total, task in
            total + 256 + task.name.utf8.count + (task.message?.utf8.count ?? 0) + 64 * task.pastAttempts.count
                + task.needs.reduce(0) { $0 + 16 + $1.utf8.count } + task.argv.reduce(0) { $0 + 16 + $1.utf8.count }
        }
    }
}
