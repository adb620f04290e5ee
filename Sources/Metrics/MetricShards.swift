import Locking

/// How the families spread their series over locks: by the calling thread's number.
enum MetricShards {
    /// Shards per family: the worker threads (8 by default) and the runner each get their own.
    static let count = 16

    /// The calling thread's shard.
    static var current: Int { ThreadNumber.current % Self.count }
}
