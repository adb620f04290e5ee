import JobStore
import Locking

/// The JSON of finished jobs, kept so that a job of a thousand tasks is not read and written
/// again for every poll of it (issue 15: the 1,000-task job's JSON cost 5 ms of CPU).
///
/// Only finished jobs are kept, keyed by id and checked against the store's stamp of the job on
/// every use (`JobStore.jobStamp(id:)`: one row, no tasks): a retry makes the job queued again,
/// another host's retry included, so a changed stamp means a miss and a fresh read. Each entry
/// also holds what authorization needs (pipeline and parameters), so a hit is authorized exactly
/// as a read would be. Bounded by entries and bytes; the oldest insertion goes first.
final class FinishedJobCache: Sendable {
    /// One finished job's representation.
    struct Entry: Sendable {
        let stamp: JobStamp
        let mountPath: String
        let pipeline: String
        let params: [String: String]
        let body: [UInt8]
        let tag: String
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        var order: [Int64] = []
        var head = 0
        var bytes = 0
    }

    private let state = Locked(State())
    /// The most entries kept.
    let maxEntries: Int
    /// The most body bytes kept, over all entries.
    let maxBytes: Int

    /// Creates an empty cache.
    init(maxEntries: Int = 512, maxBytes: Int = 32 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
    }

    /// The entry for job `id` rendered under `mountPath`, if there is one.
    func entry(id: Int64, mountPath: String) -> Entry? {
        self.state.withLock { state in
            guard let entry = state.entries[id], entry.mountPath.utf8.elementsEqual(mountPath.utf8) else { return nil }
            return entry
        }
    }

    /// Keeps `entry` for job `id` if the job is finished (else nothing), replacing an older one.
    func store(id: Int64, _ entry: Entry) {
        guard entry.stamp.state.isTerminal, entry.body.count <= self.maxBytes else { return }
        self.state.withLock { state in
            if let old = state.entries.updateValue(entry, forKey: id) {
                state.bytes -= old.body.count
            } else {
                state.order.append(id)
            }
            state.bytes += entry.body.count
            while state.entries.count > self.maxEntries || state.bytes > self.maxBytes, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let gone = state.entries.removeValue(forKey: oldest) { state.bytes -= gone.body.count }
            }
            // Compact the order list now and then, so it does not grow without bound.
            if state.head > 1024 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// How many entries and body bytes are kept (for tests).
    var size: (entries: Int, bytes: Int) { self.state.withLock { ($0.entries.count, $0.bytes) } }
}
