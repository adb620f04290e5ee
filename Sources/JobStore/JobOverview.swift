public import Foundation
import JSON

/// What the page of a large finished job shows, kept by the store when the job finished, so the
/// first view reads a few kilobytes instead of every task: counts and times per layer and state
/// (the collapsed graph and the grouped timeline), and the first rows of its task table.
///
/// The store keeps one only for a job whose tasks have layers (`TaskRecord.layer`, given for
/// large jobs when they are created), writes it in the transaction that finishes the job and
/// drops it in the one that retries the job, so it never describes tasks that changed since.
public struct JobOverview: Sendable, Hashable {
    /// The job without its tasks (`tasks` is empty).
    public var job: JobRecord
    /// How many tasks the job has.
    public var taskCount: Int
    /// How many of them failed.
    public var failedCount: Int
    /// Counts and times per layer and task state, by layer, then state name.
    public var tallies: [LayerTally]
    /// The first `rankedLimit` tasks in `rank` order (failed, running, queued, then the rest; in
    /// definition order within each), with every field.
    public var rows: [TaskRecord]

    /// How many rows a kept overview holds: enough for the task table of a job page.
    public static let rankedLimit = 200

    /// Creates an overview.
    public init(job: JobRecord, taskCount: Int, failedCount: Int, tallies: [LayerTally], rows: [TaskRecord]) {
        self.job = job
        self.taskCount = taskCount
        self.failedCount = failedCount
        self.tallies = tallies
        self.rows = rows
    }

    /// Where a task in `state` comes in a large job's table: what needs a look first.
    public static func rank(_ state: TaskState) -> Int {
        switch state {
        case .failed: 0
        case .running: 1
        case .queued: 2
        case .succeeded, .skipped, .cancelled: 3
        }
    }

    /// `rank` as an SQL expression over a task row, for the stores' `ORDER BY`.
    public static let rankSQL = "CASE state WHEN 'failed' THEN 0 WHEN 'running' THEN 1 WHEN 'queued' THEN 2 ELSE 3 END"

    /// The overview of `job` (with every task) computed here rather than by a store: what the
    /// store keeps for the same tasks. Nil if a task has no layer.
    public static func of(_ job: JobRecord) -> JobOverview? {
        guard let tallies = LayerTally.tallies(of: job.tasks) else { return nil }
        let ranked = job.tasks.indices.sorted { (Self.rank(job.tasks[$0].state), $0) < (Self.rank(job.tasks[$1].state), $1) }
        var header = job
        header.tasks = []
        return JobOverview(
            job: header, taskCount: job.tasks.count, failedCount: job.tasks.count(where: { $0.state == .failed }), tallies: tallies,
            rows: ranked.prefix(Self.rankedLimit).map { job.tasks[$0] })
    }
}

/// The tasks of one layer in one state: how many, how many retries, and when the first attempt
/// of any of them started and the last of them finished.
public struct LayerTally: Sendable, Hashable {
    /// The layer (counted from 0).
    public var layer: Int
    /// The state.
    public var state: TaskState
    /// How many tasks.
    public var tasks: Int
    /// Attempts beyond each task's first, summed.
    public var retries: Int
    /// The earliest start of any attempt; a succeeded task that never started (a noop) counts at
    /// its finish. Nil if none started.
    public var firstStart: Date?
    /// The latest `finishedAt` among them, nil if none has one.
    public var lastEnd: Date?

    /// Creates a tally.
    public init(layer: Int, state: TaskState, tasks: Int, retries: Int, firstStart: Date?, lastEnd: Date?) {
        self.layer = layer
        self.state = state
        self.tasks = tasks
        self.retries = retries
        self.firstStart = firstStart
        self.lastEnd = lastEnd
    }

    /// The tallies of `tasks`, ordered by layer then state name (as the stores' SQL orders them),
    /// each task in its `layer` or, if given, in `layers[i]`; nil if a task has neither.
    public static func tallies(of tasks: [TaskRecord], layers: [Int]? = nil) -> [LayerTally]? {
        var found: [Int: [TaskState: LayerTally]] = [:]
        for (i, task) in tasks.enumerated() {
            guard let layer = layers.flatMap({ i < $0.count ? $0[i] : nil }) ?? task.layer else { return nil }
            var tally =
                found[layer]?[task.state]
                ?? LayerTally(layer: layer, state: task.state, tasks: 0, retries: 0, firstStart: nil, lastEnd: nil)
            tally.tasks += 1
            tally.retries += max(0, task.attempt - 1)
            if let start = task.pastAttempts.first?.startedAt ?? task.startedAt ?? (task.state == .succeeded ? task.finishedAt : nil) {
                tally.firstStart = min(tally.firstStart ?? start, start)
            }
            if let end = task.finishedAt { tally.lastEnd = max(tally.lastEnd ?? end, end) }
            found[layer, default: [:]][task.state] = tally
        }
        return found.keys.sorted().flatMap { layer in
            found[layer]!.values.sorted { $0.state.rawValue.utf8.lexicographicallyPrecedes($1.state.rawValue.utf8) }
        }
    }
}

/// The stored text of a kept overview (everything but the job row and the rows' own fields):
/// `{"tasks":N,"failed":F,"tallies":[[layer,"state",tasks,retries,first_ms,last_ms],…],"ranked":["name",…]}`.
/// Every store writes this representation.
public enum JobOverviewColumn {
    /// What a kept overview holds, the tasks named rather than read.
    public struct Stored: Sendable, Hashable {
        /// How many tasks the job has.
        public var taskCount: Int
        /// How many failed.
        public var failedCount: Int
        /// Per layer and state.
        public var tallies: [LayerTally]
        /// The names of the first `JobOverview.rankedLimit` tasks in rank order.
        public var ranked: [String]

        /// Creates the stored part of an overview.
        public init(taskCount: Int, failedCount: Int, tallies: [LayerTally], ranked: [String]) {
            self.taskCount = taskCount
            self.failedCount = failedCount
            self.tallies = tallies
            self.ranked = ranked
        }

        /// The stored part of an overview whose counts are those of `tallies`: what a store
        /// keeps from its `GROUP BY` and its ranking.
        public init(tallies: [LayerTally], ranked: [String]) {
            self.init(
                taskCount: tallies.reduce(0) { $0 + $1.tasks },
                failedCount: tallies.reduce(0) { $0 + ($1.state == .failed ? $1.tasks : 0) },
                tallies: tallies, ranked: ranked)
        }
    }

    /// The column text for `stored`.
    public static func encode(_ stored: Stored) -> String {
        var w = JSONWriter(capacity: 1024 + 32 * stored.ranked.count)
        w.object { w in
            w.key("tasks")
            w.int(stored.taskCount)
            w.key("failed")
            w.int(stored.failedCount)
            w.key("tallies")
            w.array { w in
                for t in stored.tallies {
                    w.array { w in
                        w.int(t.layer)
                        w.string(t.state.rawValue)
                        w.int(t.tasks)
                        w.int(t.retries)
                        for time in [t.firstStart, t.lastEnd] {
                            if let time { w.int(StoredTime.milliseconds(time)) } else { w.raw(Array("null".utf8)) }
                        }
                    }
                }
            }
            w.key("ranked")
            w.array { w in for name in stored.ranked { w.string(name) } }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The overview stored as `text`. Throws `JobStoreError` on anything malformed.
    public static func decode(_ text: String) throws -> Stored {
        let malformed = JobStoreError("malformed job overview")
        guard case .object(let members) = try? JSONValue.parse(Data(text.utf8)),
            let taskCount = members["tasks"]?.wholeNumber, let failed = members["failed"]?.wholeNumber,
            case .array(let tallies)? = members["tallies"], case .array(let ranked)? = members["ranked"]
        else { throw malformed }
        // Counts that cannot be: a layer is below the number of tasks (a graph of n tasks has at
        // most n layers), and nothing is negative.
        guard taskCount >= 0, failed >= 0, failed <= taskCount else { throw malformed }
        return Stored(
            taskCount: Int(taskCount), failedCount: Int(failed),
            tallies: try tallies.map { entry in
                guard case .array(let f) = entry, f.count == 6, let layer = f[0].wholeNumber, case .string(let name) = f[1],
                    let state = TaskState(rawValue: name), let tasks = f[2].wholeNumber, let retries = f[3].wholeNumber,
                    layer >= 0, layer < taskCount, tasks >= 0, tasks <= taskCount, retries >= 0
                else { throw malformed }
                return LayerTally(
                    layer: Int(layer), state: state, tasks: Int(tasks), retries: Int(retries),
                    firstStart: f[4].wholeNumber.map(StoredTime.date(milliseconds:)),
                    lastEnd: f[5].wholeNumber.map(StoredTime.date(milliseconds:)))
            },
            ranked: try ranked.map { entry in
                guard case .string(let name) = entry else { throw malformed }
                return name
            })
    }
}
