public import Foundation

/// A job store that several `sluice serve` hosts share (PostgreSQL): each host holds a lease it
/// renews, owns the jobs it claimed under that lease, and can write only to jobs it owns.
///
/// The model (docs/architecture.md, "Several hosts"):
/// - **Hosts and leases.** `register` gives a host (by its id, stable across restarts) a new
///   epoch and a lease until now + `leaseSeconds`, by the database's clock; `renew` extends it,
///   and fails for good once the lease has expired or a newer epoch of the same host registered.
/// - **Claims.** A host takes on whole jobs (`claim`): unowned unfinished jobs in id order,
///   locked `FOR UPDATE SKIP LOCKED`, admitted by the same rules as `Admission` applies on one
///   host (pipeline concurrency counted over every host's jobs, the wait-for-identity rule, a
///   cancel request always admitted, nothing new while draining). A job's tasks all run on the
///   host that owns it. Claims are serialized per store so that the concurrency counts are exact.
/// - **Fencing.** Every write of the runner names its lease (`record(_:fencedBy:)`,
///   `recordProcesses(_:fencedBy:)`) and applies only to jobs that lease owns: a host whose lease
///   expired, and whose jobs another host rescued, changes nothing (its updates match no row) and
///   learns which jobs it lost.
/// - **Rescue.** `rescueExpired` releases the unfinished jobs of every host whose lease has
///   expired; any live host may then claim them, and its runner treats their `running` attempts
///   as interrupted (retried per policy: at-least-once).
/// - **Restart.** `takeOver` moves the jobs a host owned under earlier epochs to its new lease, so
///   a restarted host re-adopts its own running tasks (their supervisors live on) before anyone
///   rescues them.
///
/// Names and host ids are compared as bytes, as everywhere in the store.
public protocol SharedJobStore: JobStore {
    /// Registers `host` (or registers it again): a new epoch, one higher than any it had, and a
    /// lease until now + `leaseSeconds` by the database's clock. Any lease of an earlier epoch of
    /// the same host is lost from now on.
    func register(host: String, leaseSeconds: Double) throws -> HostLease

    /// Extends `lease` to now + `leaseSeconds`.
    /// - Returns: false if the lease is lost (it had expired, or a newer epoch registered): the
    ///   host must stop everything it runs, and register again.
    func renew(_ lease: HostLease, leaseSeconds: Double) throws -> Bool

    /// Moves every unfinished job owned by `lease.host` under another epoch to `lease`, and
    /// returns all unfinished jobs `lease` owns (oldest first, without tasks).
    func takeOver(_ lease: HostLease) throws -> [JobRecord]

    /// Releases the unfinished jobs of hosts whose lease has expired (they become claimable).
    /// - Returns: how many jobs were released, by host.
    func rescueExpired() throws -> [String: Int]

    /// Claims jobs for `lease` (see the type's documentation) and reports the jobs it already
    /// owns that have a cancel request.
    func claim(_ lease: HostLease, _ request: ClaimRequest) throws -> Claims

    /// Applies the updates of jobs `lease` owns, in one transaction, as `record(_:)` does; the
    /// updates of other jobs are not applied.
    /// - Returns: the ids of the jobs whose updates were refused (not owned by `lease`).
    func record(_ updates: [JobUpdate], fencedBy lease: HostLease) throws -> Set<Int64>

    /// Records process ids of tasks of jobs `lease` owns; others are skipped.
    func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)], fencedBy lease: HostLease) throws

    /// Every registered host, by id.
    func hosts() throws -> [HostRecord]

    /// A listener that wakes when jobs may have become claimable or changed elsewhere (a job
    /// submitted, cancel-requested, retried, finished, or rescued on any host).
    func makeListener() throws -> any JobStoreListener

    /// A listener that also wakes for every committed change of a job's tasks on any host
    /// (`StoreChanges.progress`): what long-polling requests wait for.
    func makeProgressListener() throws -> any JobStoreListener

    /// Keeps the log of a finished attempt in the store (replacing an earlier copy), so that any
    /// host can serve it, also once the host that ran it is gone.
    func storeLog(jobID: Int64, task: String, attempt: Int, bytes: [UInt8]) throws

    /// The stored log of an attempt, or nil if none was stored (it runs, or its host died first).
    func storedLog(jobID: Int64, task: String, attempt: Int) throws -> [UInt8]?

    /// The host that owns job `id` now or owned it last (nil: none claimed it yet, or no such job).
    func owner(ofJob id: Int64) throws -> String?

    /// The secret named `name`, the same for every host: the first host to ask stores
    /// `generate()`'s bytes, every later call returns those.
    func sharedSecret(named name: String, generate: () -> [UInt8]) throws -> [UInt8]
}

/// A host's lease: who it is and under which epoch it acts.
public struct HostLease: Sendable, Hashable, CustomStringConvertible {
    /// The host id (stable across restarts of the same host).
    public let host: String
    /// The epoch of this registration: every registration of the host gets a higher one.
    public let epoch: Int64

    /// Creates a lease value (stores make these).
    public init(host: String, epoch: Int64) {
        self.host = host
        self.epoch = epoch
    }

    public var description: String { "\(self.host)#\(self.epoch)" }
}

/// What a host asks for when it claims jobs.
public struct ClaimRequest: Sendable {
    /// Most new jobs to claim (the host's free capacity); jobs with a cancel request do not count.
    public var limit: Int
    /// Most jobs of a pipeline unfinished and owned at once, over all hosts, by pipeline
    /// (compared as bytes); absent: unlimited.
    public var concurrency: [String: Int]
    /// While draining a host claims only jobs with a cancel request.
    public var draining: Bool

    /// Creates a request.
    public init(limit: Int, concurrency: [String: Int] = [:], draining: Bool = false) {
        self.limit = limit
        self.concurrency = concurrency
        self.draining = draining
    }
}

/// What `claim` returns.
public struct Claims: Sendable {
    /// The jobs claimed now, oldest first, without tasks.
    public var jobs: [JobRecord]
    /// Unfinished jobs the lease already owned that have a cancel request.
    public var cancelRequested: [Int64]

    /// Creates claims.
    public init(jobs: [JobRecord], cancelRequested: [Int64]) {
        self.jobs = jobs
        self.cancelRequested = cancelRequested
    }
}

/// A registered host, as `hosts()` lists it.
public struct HostRecord: Sendable, Equatable {
    /// The host id.
    public let id: String
    /// Its latest epoch.
    public let epoch: Int64
    /// When its lease ends (or ended), by the database's clock.
    public let leaseExpiresAt: Date
    /// Whether the lease is still valid now, by the database's clock.
    public let live: Bool

    /// Creates a record.
    public init(id: String, epoch: Int64, leaseExpiresAt: Date, live: Bool) {
        self.id = id
        self.epoch = epoch
        self.leaseExpiresAt = leaseExpiresAt
        self.live = live
    }
}

/// What a shared store's notifications said changed.
public struct StoreChanges: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Jobs may have become claimable, or were cancel-requested (submit, cancel, retry, a job
    /// finished, a rescue): runners look for claims.
    public static let claimable = StoreChanges(rawValue: 1)
    /// A job's tasks changed (any commit of a runner): watchers look at their jobs again.
    public static let progress = StoreChanges(rawValue: 2)
}

/// Waits for a shared store's change notifications. Used by one thread.
public protocol JobStoreListener: AnyObject, Sendable {
    /// Waits until a notification arrives or `timeout` passes.
    /// - Returns: true if something was notified.
    /// - Throws: `StorageUnavailable` if the connection failed (the caller waits a little and
    ///   makes a new listener).
    func wait(timeout: Duration) throws -> Bool

    /// Waits like `wait(timeout:)` and says what the notifications that arrived were about
    /// (empty: none arrived).
    func waitForChanges(timeout: Duration) throws -> StoreChanges

    /// Closes the connection.
    func close()
}
