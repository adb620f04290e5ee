import Foundation
import JobStore
import Locking
import Postgres
import PostgresStore
import SQLiteStore
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Which store a runner benchmark runs on (`--store`).
enum BenchStoreKind: String {
    /// A durable SQLite store (WAL, `synchronous=FULL`) in a fresh temporary directory.
    case sqlite
    /// A fresh schema of the PostgreSQL database at `SLUICE_BENCH_POSTGRES_URL` (password from
    /// `SLUICE_BENCH_POSTGRES_PASSWORD`), created for the run and dropped after it.
    case postgres

    /// The kind named by `--store` (default sqlite); exits on anything else.
    init(_ options: Options) {
        guard let kind = BenchStoreKind(rawValue: options["--store"] ?? "sqlite") else {
            fail("--store must be sqlite or postgres, not '\(options["--store"] ?? "")'", status: 2)
        }
        self = kind
    }
}

/// One run's store and temporary directory (logs, working directory, the SQLite file).
///
/// SQLite: one `SQLiteJobStore`, which every caller shares (a second store on the same file
/// would be a second writer). PostgreSQL: a schema of its own, named after the process and a
/// random number, and a new `PostgresJobStore` (its own connection pool) for each `open`, as
/// each host of a deployment has its own; every session's `search_path` is the schema (libpq's
/// `options`, as Tests/TestSupport/TestPostgres.swift does), so the store creates its tables
/// there. `remove()` drops the schema and the directory.
///
/// Every store handed out is wrapped in `TimedStore`, which sums the time spent in each store
/// method (the breakdown the benchmarks print).
final class BenchStore: Sendable {
    let kind: BenchStoreKind
    /// The run's temporary directory.
    let directory: String
    /// Time in store calls, by method, over every store this run opened.
    let times = StoreTimes()
    private let sqlite: SQLiteJobStore?
    private let postgres: Postgres?

    private struct Postgres: Sendable {
        var base: String
        var password: String?
        var schema: String
        /// `base` with the schema as every session's search_path.
        var connection: String
    }

    init(_ kind: BenchStoreKind, label: String) {
        self.kind = kind
        self.directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "sluice-bench-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            ).path
        do { try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true) } catch {
            fail("cannot create \(self.directory): \(error)")
        }
        switch kind {
        case .sqlite:
            do { self.sqlite = try SQLiteJobStore(path: self.directory + "/bench.db") } catch { fail("cannot open store: \(error)") }
            self.postgres = nil
        case .postgres:
            let environment = ProcessInfo.processInfo.environment
            guard let base = environment["SLUICE_BENCH_POSTGRES_URL"], !base.isEmpty else {
                fail(
                    "--store postgres needs SLUICE_BENCH_POSTGRES_URL (a libpq connection string; scripts/bench runner --store postgres starts a private cluster and sets it)"
                )
            }
            let password = environment["SLUICE_BENCH_POSTGRES_PASSWORD"]
            let schema = "sluice_bench_\(getpid())_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            do {
                let db = try PostgresConnection(base, password: password)
                defer { db.close() }
                try db.execute("CREATE SCHEMA " + PostgresIdentifier.quoted(schema))
            } catch { fail("cannot create the schema \(schema): \(error)") }
            self.sqlite = nil
            self.postgres = Postgres(base: base, password: password, schema: schema, connection: Self.connection(base, searchPath: schema))
        }
    }

    /// `connection` with `search_path` set to `schema` for every session, for a `key=value`
    /// string or a `postgresql://` URL (`schema` needs no quoting: letters, digits and `_`).
    static func connection(_ connection: String, searchPath schema: String) -> String {
        if connection.hasPrefix("postgresql://") || connection.hasPrefix("postgres://") {
            return connection + (connection.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
        }
        return connection + " options='-c search_path=\(schema)'"
    }

    /// A store for one host (or for the submitters): the shared SQLite store, or a new
    /// PostgreSQL store with its own pool of `poolSize` connections.
    func open(poolSize: Int = 4) -> TimedStore {
        if let sqlite = self.sqlite { return TimedStore(sqlite, times: self.times) }
        guard let postgres = self.postgres else { fail("no store") }
        do {
            let store = try PostgresJobStore(connection: postgres.connection, password: postgres.password, poolSize: poolSize)
            return TimedSharedStore(store, times: self.times)
        } catch { fail("cannot open the PostgreSQL store: \(error)") }
    }

    /// The runner settings of host `id`: its own log directory, and a lease on a shared store.
    func configuration(host id: String, parallelism: Int, onJobChange: (@Sendable (Int64, JobState) -> Void)?) -> Runner.Configuration {
        var configuration = Runner.Configuration(
            parallelism: parallelism, logDirectory: self.directory + "/logs-\(id)", onJobChange: onJobChange)
        if self.kind == .postgres { configuration.hosting = .init(id: id, leaseSeconds: 15) }
        return configuration
    }

    /// Waits (30 s at most) until `runner` holds a lease and has looked for jobs to claim, and
    /// its calls have settled (no new claim for 50 ms: the listener's first wake-up comes a
    /// little after the first pass), on a shared store; at once otherwise. Registration, the
    /// take-over of earlier epochs' jobs and the first claims are start-up, outside every timed
    /// span.
    func waitRegistered(_ runner: Runner) {
        guard self.kind == .postgres else { return }
        let deadline = Date().addingTimeInterval(30)
        while runner.host?.epoch == nil || self.times.calls("claim") == 0 {
            guard Date() < deadline else { fail("the runner did not register as a host and claim within 30 s") }
            usleep(1_000)
        }
        var claims = self.times.calls("claim")
        repeat {
            usleep(50_000)
            let now = self.times.calls("claim")
            if now == claims { break }
            claims = now
        } while Date() < deadline
    }

    /// The median round trip (`SELECT 1`) and the median commit of a one-row insert (the WAL
    /// flush every durable transaction waits for) on a connection of its own, in seconds:
    /// the two latencies every store call is made of. Nil on SQLite.
    func probeLatencies() -> (roundTrip: Double, commit: Double)? {
        guard let postgres = self.postgres else { return nil }
        do {
            let db = try PostgresConnection(postgres.connection, password: postgres.password)
            defer { db.close() }
            try db.execute("CREATE TABLE sluice_bench_probe (n bigint)")
            var trips: [Double] = []
            for _ in 0..<200 {
                let start = monotonicSeconds()
                try db.execute("SELECT 1")
                trips.append(monotonicSeconds() - start)
            }
            var commits: [Double] = []
            for n in 0..<30 {
                try db.execute("BEGIN")
                try db.execute("INSERT INTO sluice_bench_probe VALUES ($1)", [.int64(Int64(n))])
                let start = monotonicSeconds()
                try db.execute("COMMIT")
                commits.append(monotonicSeconds() - start)
            }
            try db.execute("DROP TABLE sluice_bench_probe")
            return (median(trips), median(commits))
        } catch { fail("cannot probe the PostgreSQL server: \(error)") }
    }

    /// Drops the PostgreSQL schema (with every table in it) and removes the directory. Call it
    /// after every runner has stopped.
    func remove() {
        if let postgres = self.postgres {
            do {
                let db = try PostgresConnection(postgres.base, password: postgres.password)
                defer { db.close() }
                try db.execute("DROP SCHEMA " + PostgresIdentifier.quoted(postgres.schema) + " CASCADE")
            } catch { note("sluice-bench: cannot drop the schema \(postgres.schema): \(error)") }
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

/// Seconds spent in store calls, by method name, summed over every thread (a call that waits
/// for a lock or a pooled connection counts its wait).
final class StoreTimes: Sendable {
    private let table = Locked<[String: (calls: Int, seconds: Double)]>([:])

    /// Runs `body`, adding its time to `name`.
    func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = monotonicSeconds()
        defer {
            let seconds = monotonicSeconds() - start
            self.table.withLock { table in
                let old = table[name] ?? (0, 0)
                table[name] = (old.calls + 1, old.seconds + seconds)
            }
        }
        return try body()
    }

    /// How many calls of `name` were measured.
    func calls(_ name: String) -> Int { self.table.withLock { $0[name]?.calls ?? 0 } }

    /// Forgets everything measured so far (after the untimed start-up).
    func reset() { self.table.withLock { $0 = [:] } }

    /// `{"method":{"calls":N,"seconds":S},...}`, by method name.
    func json() -> String {
        let entries = self.table.withLock { $0 }.sorted { $0.key < $1.key }
        return "{" + entries.map { "\"\($0.key)\":{\"calls\":\($0.value.calls),\"seconds\":\($0.value.seconds)}" }.joined(separator: ",")
            + "}"
    }
}

/// A store that forwards every call to another and times it (`StoreTimes`).
class TimedStore: JobStore, @unchecked Sendable {
    // @unchecked: both properties are immutable and Sendable; the class is not final only so
    // that TimedSharedStore can add SharedJobStore.
    let inner: any JobStore
    let times: StoreTimes

    init(_ inner: any JobStore, times: StoreTimes) {
        self.inner = inner
        self.times = times
    }

    func createJob(_ job: NewJob) throws -> JobRecord { try self.times.measure("createJob") { try self.inner.createJob(job) } }
    func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission {
        try self.times.measure("submit") { try self.inner.submit(job, rules: rules, audit: audit) }
    }
    func job(id: Int64) throws -> JobRecord? { try self.times.measure("job") { try self.inner.job(id: id) } }
    func jobOverview(id: Int64) throws -> JobOverview? { try self.times.measure("jobOverview") { try self.inner.jobOverview(id: id) } }
    func scheduleMarks() throws -> [ScheduleMark] { try self.inner.scheduleMarks() }
    func jobEvents(after id: Int64, limit: Int) throws -> [JobEvent] { try self.inner.jobEvents(after: id, limit: limit) }
    func eventCursor(_ consumer: String) throws -> Int64? { try self.inner.eventCursor(consumer) }
    func pruneJobEvents(limit: Int) throws -> Int { try self.inner.pruneJobEvents(limit: limit) }
    func enqueueDeliveries(_ deliveries: [NewDelivery], consumer: String, through eventID: Int64) throws {
        try self.inner.enqueueDeliveries(deliveries, consumer: consumer, through: eventID)
    }
    func claimDueDeliveries(now: Date, limit: Int, claimUntil: Date) throws -> [Delivery] {
        try self.inner.claimDueDeliveries(now: now, limit: limit, claimUntil: claimUntil)
    }
    func recordDeliveryAttempt(id: Int64, claimedUntil: Date?, _ attempt: DeliveryAttempt) throws -> Bool {
        try self.inner.recordDeliveryAttempt(id: id, claimedUntil: claimedUntil, attempt)
    }
    func deliveries(_ query: DeliveryQuery) throws -> [Delivery] { try self.inner.deliveries(query) }
    func redeliver(id: Int64, at: Date, audit: AuditRecord?) throws -> Delivery? { try self.inner.redeliver(id: id, at: at, audit: audit) }
    func pruneDeliveries(finishedBefore before: Date, limit: Int) throws -> Int {
        try self.inner.pruneDeliveries(finishedBefore: before, limit: limit)
    }
    func decideApproval(jobID: Int64, _ decision: ApprovalDecision, audit: AuditRecord?) throws -> ApprovalOutcome {
        try self.inner.decideApproval(jobID: jobID, decision, audit: audit)
    }
    func expireApprovals(now: Date, audit: AuditRecord) throws -> [JobRecord] { try self.inner.expireApprovals(now: now, audit: audit) }
    func advanceEventCursor(_ consumer: String, to id: Int64?) throws -> Int64 { try self.inner.advanceEventCursor(consumer, to: id) }
    func moveScheduleMark(from expected: ScheduleMark?, to mark: ScheduleMark) throws -> Bool {
        try self.inner.moveScheduleMark(from: expected, to: mark)
    }
    func jobs(_ query: JobQuery) throws -> [JobRecord] { try self.times.measure("jobs") { try self.inner.jobs(query) } }
    func requestCancel(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        try self.times.measure("requestCancel") { try self.inner.requestCancel(jobID: jobID, audit: audit) }
    }
    func retry(jobID: Int64, audit: AuditRecord?) throws -> JobRecord? {
        try self.times.measure("retry") { try self.inner.retry(jobID: jobID, audit: audit) }
    }
    func unfinishedJobs() throws -> [JobRecord] { try self.times.measure("unfinishedJobs") { try self.inner.unfinishedJobs() } }
    func recordProcess(jobID: Int64, task: String, pid: Int32) throws {
        try self.times.measure("recordProcess") { try self.inner.recordProcess(jobID: jobID, task: task, pid: pid) }
    }
    func record(jobID: Int64, changes: [TaskChange], jobState: JobState) throws {
        try self.times.measure("record") { try self.inner.record(jobID: jobID, changes: changes, jobState: jobState) }
    }
    func record(_ updates: [JobUpdate]) throws { try self.times.measure("record") { try self.inner.record(updates) } }
    func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)]) throws {
        try self.times.measure("recordProcesses") { try self.inner.recordProcesses(processes) }
    }
    func appendAudit(_ record: AuditRecord) throws { try self.times.measure("appendAudit") { try self.inner.appendAudit(record) } }
    func auditRecords(_ query: AuditQuery) throws -> [AuditRecord] {
        try self.times.measure("auditRecords") { try self.inner.auditRecords(query) }
    }
}

/// `TimedStore` of a shared store: what the runner sees as a `SharedJobStore`.
final class TimedSharedStore: TimedStore, SharedJobStore, @unchecked Sendable {
    private let shared: any SharedJobStore

    init(_ inner: any SharedJobStore, times: StoreTimes) {
        self.shared = inner
        super.init(inner, times: times)
    }

    func register(host: String, leaseSeconds: Double) throws -> HostLease {
        try self.times.measure("register") { try self.shared.register(host: host, leaseSeconds: leaseSeconds) }
    }
    func renew(_ lease: HostLease, leaseSeconds: Double) throws -> Bool {
        try self.times.measure("renew") { try self.shared.renew(lease, leaseSeconds: leaseSeconds) }
    }
    func takeOver(_ lease: HostLease) throws -> [JobRecord] { try self.times.measure("takeOver") { try self.shared.takeOver(lease) } }
    func rescueExpired() throws -> [String: Int] { try self.times.measure("rescueExpired") { try self.shared.rescueExpired() } }
    func claim(_ lease: HostLease, _ request: ClaimRequest) throws -> Claims {
        try self.times.measure("claim") { try self.shared.claim(lease, request) }
    }
    func record(_ updates: [JobUpdate], fencedBy lease: HostLease) throws -> Set<Int64> {
        try self.times.measure("record") { try self.shared.record(updates, fencedBy: lease) }
    }
    func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)], fencedBy lease: HostLease) throws {
        try self.times.measure("recordProcesses") { try self.shared.recordProcesses(processes, fencedBy: lease) }
    }
    func hosts() throws -> [HostRecord] { try self.times.measure("hosts") { try self.shared.hosts() } }
    // Not timed: the listener waits here on purpose, for up to a second at a time.
    func makeListener() throws -> any JobStoreListener { try self.shared.makeListener() }
    func makeProgressListener() throws -> any JobStoreListener { try self.shared.makeProgressListener() }
    func storeLog(jobID: Int64, task: String, attempt: Int, bytes: [UInt8]) throws {
        try self.times.measure("storeLog") { try self.shared.storeLog(jobID: jobID, task: task, attempt: attempt, bytes: bytes) }
    }
    func storedLog(jobID: Int64, task: String, attempt: Int) throws -> [UInt8]? {
        try self.shared.storedLog(jobID: jobID, task: task, attempt: attempt)
    }
    func owner(ofJob id: Int64) throws -> String? { try self.shared.owner(ofJob: id) }
    func sharedSecret(named name: String, generate: () -> [UInt8]) throws -> [UInt8] {
        try self.shared.sharedSecret(named: name, generate: generate)
    }
}
