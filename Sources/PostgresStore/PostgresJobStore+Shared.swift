public import JobStore
import Postgres

/// `SharedJobStore`: hosts with leases, claims, fenced writes, rescue and take-over, on the
/// tables of migration 3 (`hosts`; `jobs.owner`, `jobs.owner_epoch`).
///
/// **Whose clock.** Every lease time is the database's: `clock_timestamp()` in Unix
/// milliseconds (`databaseNow`), never the host's (hosts' clocks differ, and a lease one host
/// wrote by its clock would expire early or late by another's). `clock_timestamp()` rather than
/// `now()`: `now()` is when the transaction began, and a statement that waited for a lock would
/// judge a lease by a stale time.
///
/// **Locks.** A host's row is the lease: everything that acts under a lease locks it first.
/// `claim` and `takeOver` lock it `FOR SHARE` with the epoch and expiry in the `WHERE`, so a
/// registration (which raises the epoch) or a rescue (which locks expired hosts `FOR UPDATE`)
/// waits until they commit, or, if it came first, makes them find no row: an owner is never
/// set under a lease that has just been lost. `renew` locks it `FOR UPDATE` and only then reads
/// the clock. Rows are then locked in one order everywhere: host rows (in id order), the claim
/// lock, job rows (in id order), task rows; claims skip locked job rows rather than waiting.
///
/// **Transactions.** Every method is one READ COMMITTED transaction (`write`): each statement
/// sees what committed before it began, which is what the lock waits above rely on.
extension PostgresJobStore: SharedJobStore {
    /// The database's clock, in Unix milliseconds (see the extension's documentation).
    static let databaseNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    /// How many candidate jobs a claim reads (and locks) per statement.
    static let claimPageSize = 200
    /// The most candidate pages one claim reads. Each page after the first is asked for only
    /// after the previous one was full, and leaves out jobs that cannot be admitted (full
    /// pipelines, jobs waiting for an identity, all but cancel requests once `limit` is
    /// reached), so reaching this bound needs thousands of claimable jobs; the rest wait for
    /// the next claim.
    static let claimMaxPages = 10

    // MARK: - Leases

    public func register(host: String, leaseSeconds: Double) throws -> HostLease {
        try Self.checkHost(host)
        let lease = try Self.leaseMilliseconds(leaseSeconds)
        let epoch = try self.write { db in
            // ON CONFLICT: one statement, so two registrations of the same host (which should not
            // happen, but a misconfigured pair of hosts could) each get their own epoch; the
            // second waits for the first's row lock and adds one to its epoch. Host rows are
            // never deleted, so the epoch only ever grows.
            try db.execute(
                """
                INSERT INTO hosts AS h (id, epoch, lease_expires_at, started_at, renewed_at)
                SELECT $1, 1, clock.now + $2, clock.now, clock.now FROM (SELECT \(Self.databaseNow) AS now) AS clock
                ON CONFLICT (id) DO UPDATE SET epoch = h.epoch + 1, lease_expires_at = excluded.lease_expires_at,
                    started_at = excluded.started_at, renewed_at = excluded.renewed_at
                RETURNING epoch
                """,
                [.text(host), .int64(lease)]
            ).first?.int64(0)
        }
        guard let epoch else { throw JobStoreError("registering host \(host) returned no epoch") }
        return HostLease(host: host, epoch: epoch)
    }

    public func renew(_ lease: HostLease, leaseSeconds: Double) throws -> Bool {
        let milliseconds = try Self.leaseMilliseconds(leaseSeconds)
        return try self.write { db in
            // Lock first, read the clock after: a rescue that judged this lease expired holds
            // the row until it has released the host's jobs; once it commits, this statement's
            // clock is later than the rescue's, so the lease is expired here too and stays
            // lost. (Reading the clock before waiting could extend a lease that a rescue had
            // just ended.)
            guard
                try db.execute("SELECT 1 FROM hosts WHERE id = $1 AND epoch = $2 FOR UPDATE", [.text(lease.host), .int64(lease.epoch)])
                    .first != nil
            else { return false }
            // Expired stays expired (`>=`: valid up to and including its last millisecond, as
            // `holdsLease` and `hosts()` judge it): its jobs may already belong to others.
            let renewed = try db.execute(
                """
                UPDATE hosts SET lease_expires_at = clock.now + $3, renewed_at = clock.now
                FROM (SELECT \(Self.databaseNow) AS now) AS clock
                WHERE id = $1 AND epoch = $2 AND lease_expires_at >= clock.now
                """,
                [.text(lease.host), .int64(lease.epoch), .int64(milliseconds)])
            return renewed.affectedRows == 1
        }
    }

    /// Locks `lease`'s host row `FOR SHARE` inside the caller's transaction if the lease holds
    /// (the host's latest epoch, not expired by the database's clock), so that no registration
    /// or rescue ends it before the caller commits.
    /// - Returns: whether the lease holds.
    private static func holdsLease(_ lease: HostLease, in db: PostgresConnection) throws -> Bool {
        // The condition is in the locking statement: if a registration or rescue holds the row,
        // this waits for it and checks the newest version, which then fails.
        try db.execute(
            "SELECT 1 FROM hosts WHERE id = $1 AND epoch = $2 AND lease_expires_at >= \(Self.databaseNow) FOR SHARE",
            [.text(lease.host), .int64(lease.epoch)]
        ).first != nil
    }

    public func hosts() throws -> [HostRecord] {
        try self.read { db in
            // ORDER BY id under COLLATE "C": byte order, the same on every server.
            try db.execute(
                "SELECT id, epoch, lease_expires_at, lease_expires_at >= \(Self.databaseNow) AS live FROM hosts ORDER BY id"
            ).map { row in
                guard let id = try row.string("id"), let epoch = try row.int64("epoch"), let expires = try row.int64("lease_expires_at")
                else { throw JobStoreError("malformed host row") }
                return HostRecord(
                    id: id, epoch: epoch, leaseExpiresAt: StoredTime.date(milliseconds: expires), live: try row.bool("live") == true)
            }
        }
    }

    /// Refuses a host id that cannot name a host: empty, or with a NUL (PostgreSQL text cannot
    /// hold one).
    private static func checkHost(_ host: String) throws {
        guard !host.isEmpty else { throw JobStoreError("a host id must not be empty") }
        guard !host.utf8.contains(0) else { throw JobStoreError("a host id must not contain a NUL character") }
    }

    /// A lease's length in whole milliseconds (rounded up, so a positive length never becomes 0).
    /// - Throws: `JobStoreError` unless `seconds` is finite and positive.
    private static func leaseMilliseconds(_ seconds: Double) throws -> Int64 {
        guard seconds.isFinite, seconds > 0 else { throw JobStoreError("a lease must last a positive, finite time (got \(seconds) s)") }
        // At most about 285 years: the sum with the clock stays far inside a BIGINT.
        return Int64(min(seconds * 1000, 9e12).rounded(.up))
    }

    // MARK: - Owning jobs

    public func takeOver(_ lease: HostLease) throws -> [JobRecord] {
        try self.write { db in
            // A lost lease takes nothing over: it would take the jobs back from the host's newer
            // epoch, or take jobs a rescue is releasing.
            guard try Self.holdsLease(lease, in: db) else { return [] }
            // Rows locked in id order (the subquery), as every multi-row locker here does.
            try db.execute(
                """
                UPDATE jobs SET owner_epoch = $2
                WHERE id IN (SELECT id FROM jobs WHERE owner = $1 AND owner_epoch IS DISTINCT FROM $2
                                 AND state IN ('queued','running') ORDER BY id FOR UPDATE)
                """,
                [.text(lease.host), .int64(lease.epoch)])
            return try db.execute(
                "SELECT * FROM jobs WHERE owner = $1 AND owner_epoch = $2 AND state IN ('queued','running') ORDER BY id",
                [.text(lease.host), .int64(lease.epoch)]
            ).map(Self.job(from:))
        }
    }

    public func rescueExpired() throws -> [String: Int] {
        let channel = self.channel
        return try self.write { db in
            // The expired hosts that own unfinished jobs, locked (in id order) so that a renewal
            // in progress either commits first (then the re-check of the newest row finds the
            // lease valid and skips the host) or waits and then finds it expired for good (see
            // `renew`). Hosts without jobs are left alone: locking a row writes to it, and dead
            // hosts would otherwise be written on every rescue forever.
            let expired = try db.execute(
                """
                SELECT id FROM hosts
                WHERE lease_expires_at < \(Self.databaseNow)
                  AND EXISTS (SELECT 1 FROM jobs WHERE owner = hosts.id AND state IN ('queued','running'))
                ORDER BY id FOR UPDATE
                """
            ).compactMap { try $0.string(0) }
            guard !expired.isEmpty else { return [:] }
            // The jobs' rows are locked in id order first (the CTE), so a fenced record of the
            // expired host that holds one finishes first, and the job is released only if it is
            // still unfinished. No claim or take-over can give these hosts new jobs meanwhile:
            // both need the host rows locked above. Counted by owner as bytes (GROUP BY under
            // COLLATE "C").
            var arguments = Arguments()
            let hosts = arguments.list(expired.map(PostgresValue.text))
            let released = try db.execute(
                """
                WITH locked AS (
                    SELECT id, owner FROM jobs WHERE owner IN (\(hosts)) AND state IN ('queued','running') ORDER BY id FOR UPDATE
                ), released AS (
                    UPDATE jobs SET owner = NULL, owner_epoch = NULL FROM locked WHERE jobs.id = locked.id RETURNING locked.owner
                )
                SELECT owner, count(*) AS n FROM released GROUP BY owner
                """,
                arguments.values)
            var counts: [String: Int] = [:]
            for row in released {
                guard let host = try row.string("owner"), let count = try row.int64("n") else {
                    throw JobStoreError("malformed rescue row")
                }
                // `+=`: the protocol's String keys would merge two host ids that differ only in
                // their bytes (canonically equivalent); their counts add up rather than one
                // silently replacing the other.
                counts[host, default: 0] += Int(count)
            }
            if !counts.isEmpty { try Self.notifyChange(on: channel, in: db) }
            return counts
        }
    }

    public func claim(_ lease: HostLease, _ request: ClaimRequest) throws -> Claims {
        let namespace = self.namespace
        return try self.write { db in
            // Fencing: a lost lease claims nothing (its host is about to stop everything).
            guard try Self.holdsLease(lease, in: db) else { return Claims(jobs: [], cancelRequested: []) }
            // Claims one at a time (see `AdvisoryLockKey.claim`); every statement from here on
            // sees the owners set by the claims that committed before this one got the lock.
            try Self.lock(AdvisoryLockKey.claim(namespace: namespace), on: db)
            // Read before claiming: only jobs the lease owned already (new claims carry their
            // own cancel flag).
            let cancelRequested = try db.execute(
                """
                SELECT id FROM jobs WHERE owner = $1 AND owner_epoch = $2 AND state IN ('queued','running') AND cancel_requested
                ORDER BY id
                """,
                [.text(lease.host), .int64(lease.epoch)]
            ).compactMap { try $0.int64(0) }

            var admission = ClaimAdmission(request, owned: try Self.ownedUnfinished(limited: Array(request.concurrency.keys), in: db))
            var claimed: [JobRecord] = []
            var after: Int64 = 0
            for _ in 0..<Self.claimMaxPages {
                let page = try Self.candidates(after: after, admission: admission, host: lease.host, in: db)
                for job in page where admission.admit(pipeline: job.pipeline, cancelRequested: job.cancelRequested) {
                    claimed.append(job)
                }
                guard page.count == Self.claimPageSize, let last = page.last else { break }
                after = last.id
            }
            if !claimed.isEmpty {
                var arguments = Arguments()
                let owner = arguments.add(.text(lease.host))
                let epoch = arguments.add(.int64(lease.epoch))
                let ids = arguments.list(claimed.map { .int64($0.id) })
                // The rows are locked by the candidate statements: nothing changed them since.
                try db.execute("UPDATE jobs SET owner = \(owner), owner_epoch = \(epoch) WHERE id IN (\(ids))", arguments.values)
            }
            return Claims(jobs: claimed, cancelRequested: cancelRequested)
        }
    }

    /// The unfinished jobs owned by any host (under any epoch, live or expired: until a rescue
    /// releases them, they may be running), per pipeline as bytes, for the pipelines
    /// `limited` only (the others need no count).
    private static func ownedUnfinished(limited: [String], in db: PostgresConnection) throws -> [[UInt8]: Int] {
        guard !limited.isEmpty else { return [:] }
        var arguments = Arguments()
        let pipelines = arguments.list(limited.map(PostgresValue.text))
        // GROUP BY and IN under the column's COLLATE "C": byte-exact ("K" and U+212A apart).
        let rows = try db.execute(
            """
            SELECT pipeline, count(*) AS n FROM jobs
            WHERE owner IS NOT NULL AND state IN ('queued','running') AND pipeline IN (\(pipelines))
            GROUP BY pipeline
            """,
            arguments.values)
        var counts: [[UInt8]: Int] = [:]
        for row in rows {
            guard let pipeline = try row.string("pipeline"), let count = try row.int64("n") else {
                throw JobStoreError("malformed count row")
            }
            counts[Array(pipeline.utf8), default: 0] += Int(count)
        }
        return counts
    }

    /// The next page of claim candidates after job `after`: unowned unfinished jobs in id
    /// order, locked `FOR UPDATE SKIP LOCKED`, without those `admission` would refuse anyway.
    ///
    /// `SKIP LOCKED`: a job row another transaction holds (a cancel request, a retry being
    /// committed) is left for the next claim instead of making every claim wait; claims do not
    /// skip each other's rows, since they run one at a time. The lock keeps the job from
    /// changing between this read and the claim's `UPDATE`.
    ///
    /// A job waiting for its identity (`waits_for_identity`) is left out while an earlier
    /// unfinished job of the same pipeline has the same identity, owned by any host or by none,
    /// or a later one that waits too and is already owned (jobs that awaited approval start in
    /// approval order):
    /// the rule `Admission` applies on one host, where every unfinished job is in its list. It
    /// is checked here, in the statement, because it concerns jobs no page may include.
    ///
    /// A job with a host affinity (secret parameters only that host holds) is a candidate for
    /// that host, and for any other only once that host's lease has ended.
    private static func candidates(after: Int64, admission: ClaimAdmission, host: String, in db: PostgresConnection) throws
        -> [JobRecord]
    {
        var arguments = Arguments()
        var sql = "SELECT * FROM jobs WHERE owner IS NULL AND state IN ('queued','running') AND id > " + arguments.add(.int64(after))
        sql += " AND (host_affinity IS NULL OR host_affinity = " + arguments.add(.text(host))
        sql += " OR NOT EXISTS (SELECT 1 FROM hosts WHERE hosts.id = jobs.host_affinity AND hosts.lease_expires_at >= \(Self.databaseNow)))"
        if admission.onlyCancelRequested {
            sql += " AND cancel_requested"
        } else {
            var admissible = """
                NOT (waits_for_identity AND EXISTS (
                    SELECT 1 FROM jobs AS earlier
                    WHERE earlier.pipeline = jobs.pipeline AND earlier.identity = jobs.identity
                      AND earlier.state IN ('queued','running') AND earlier.id <> jobs.id
                      AND (earlier.id < jobs.id OR (earlier.owner IS NOT NULL AND earlier.waits_for_identity))))
                """
            let full = admission.fullPipelines
            if !full.isEmpty { admissible += " AND pipeline NOT IN (" + arguments.list(full.map(PostgresValue.text)) + ")" }
            sql += " AND (cancel_requested OR (" + admissible + "))"
        }
        sql += " ORDER BY id LIMIT \(Self.claimPageSize) FOR UPDATE SKIP LOCKED"
        return try db.execute(sql, arguments.values).map(Self.job(from:))
    }

    // MARK: - Fenced writes

    public func record(_ updates: [JobUpdate], fencedBy lease: HostLease) throws -> Set<Int64> {
        try self.record(updates, fence: lease)
    }

    public func recordProcesses(_ processes: [(jobID: Int64, task: String, pid: Int32)], fencedBy lease: HostLease) throws {
        try self.recordProcesses(processes, fence: lease)
    }

    // MARK: - Listening

    public func makeListener() throws -> any JobStoreListener {
        do {
            return try PostgresChangeListener(
                connection: self.connectionString, password: self.password, defaults: self.connectionDefaults, channel: self.channel)
        } catch let error as PostgresError {
            throw StorageUnavailable(classifying: error) ?? error
        }
    }

    public func makeProgressListener() throws -> any JobStoreListener {
        do {
            return try PostgresChangeListener(
                connection: self.connectionString, password: self.password, defaults: self.connectionDefaults,
                channel: self.channel, progressChannel: ChangeChannel.progressName(namespace: self.namespace))
        } catch let error as PostgresError {
            throw StorageUnavailable(classifying: error) ?? error
        }
    }
}
