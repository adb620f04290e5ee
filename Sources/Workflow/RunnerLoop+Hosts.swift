import Foundation
import JobStore
import Supervisor

#if canImport(Glibc)
    import Glibc
#endif

/// The runner's part in a store several hosts share (`SharedJobStore`; docs/architecture.md,
/// "Several hosts"): it registers this host, renews its lease every third of its length
/// (rescuing the jobs of hosts whose lease expired, and polling for claims, at the same time),
/// claims whole jobs instead of admitting every unfinished one, writes only under its lease,
/// and stops everything it runs when the lease is lost.
extension RunnerLoop {
    /// The shared store and this host's lease.
    struct Hosting {
        let store: any SharedJobStore
        let settings: Runner.HostSettings
        /// The current lease; nil until registered, and between a loss and the next registration.
        var lease: HostLease? = nil
        /// When the lease is renewed next.
        var renewAt: Date? = nil
        /// Until when the lease is surely valid by this host's clock: the start of the last
        /// successful renewal plus the lease length (the database counts from a later moment, so
        /// its expiry is never earlier than this).
        var validUntil = Date.distantPast
        /// When this host stops everything it runs unless the lease was renewed meanwhile
        /// (`LeaseWatchdog`): a sixth of the lease before `validUntil`, so that the tasks are
        /// gone before any other host can see the lease expired and rescue the jobs.
        var stopBy: Date { self.validUntil.addingTimeInterval(-self.settings.leaseSeconds / 6) }
        /// Whether the last renewal failed (logged once per failing stretch).
        var failing = false

        init(store: any SharedJobStore, settings: Runner.HostSettings) {
            self.store = store
            self.settings = settings
        }
    }

    /// Registers this host: a new epoch and lease. Tries every second until the store answers.
    /// - Returns: false if the runner was told to stop meanwhile.
    func register() -> Bool {
        guard var hosting = self.hosting else { return true }
        var logged = false
        while !self.stopping {
            let started = Date()
            do {
                let lease = try hosting.store.register(host: hosting.settings.id, leaseSeconds: hosting.settings.leaseSeconds)
                hosting.lease = lease
                hosting.validUntil = started.addingTimeInterval(hosting.settings.leaseSeconds)
                hosting.renewAt = started.addingTimeInterval(hosting.settings.leaseSeconds / 3)
                hosting.failing = false
                self.hosting = hosting
                self.watchdog?.arm(until: hosting.stopBy)
                self.publishHost()
                self.logger.info(
                    "host registered", ["host": lease.host, "epoch": "\(lease.epoch)", "lease_seconds": "\(hosting.settings.leaseSeconds)"])
                return true
            } catch {
                if !logged {
                    self.logger.error("cannot register this host with the job store; retrying every second", ["error": "\(error)"])
                }
                logged = true
                // Nothing runs yet (or any more): only a stop matters while waiting.
                for event in self.queue.takeAll(until: Date().addingTimeInterval(1)) {
                    if case .stop = event { self.stopping = true }
                }
            }
        }
        return false
    }

    /// Renews the lease when it is due, then rescues expired hosts' jobs and looks for claims
    /// (the slow poll that covers lost notifications). A lease found lost, or not renewed
    /// before it surely ran out, costs this host everything it runs (`loseLease`).
    func keepLease() {
        guard var hosting = self.hosting, let lease = hosting.lease, let renewAt = hosting.renewAt else { return }
        let now = Date()
        guard now >= renewAt else { return }
        let seconds = hosting.settings.leaseSeconds
        var lost = false
        do {
            if try hosting.store.renew(lease, leaseSeconds: seconds) {
                hosting.validUntil = now.addingTimeInterval(seconds)
                hosting.renewAt = now.addingTimeInterval(seconds / 3)
                self.watchdog?.arm(until: hosting.stopBy)
                if hosting.failing { self.logger.info("lease renewed again", ["host": lease.host]) }
                hosting.failing = false
            } else {
                lost = true
            }
        } catch {
            if !hosting.failing {
                self.logger.warning("cannot renew this host's lease; trying every second", ["host": lease.host, "error": "\(error)"])
            }
            hosting.failing = true
            hosting.renewAt = now.addingTimeInterval(1)
            // Past this moment another host may have rescued our jobs: act as if it had.
            lost = now >= hosting.validUntil
        }
        self.hosting = hosting
        self.publishHost()
        if lost {
            self.loseLease()
            return
        }
        if hosting.failing { return }
        do {
            let released = try hosting.store.rescueExpired()
            for (host, count) in released.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                self.logger.warning("rescued the jobs of a host whose lease expired", ["host": host, "jobs": "\(count)"])
            }
        } catch {
            self.logger.warning("cannot rescue expired hosts' jobs", ["error": "\(error)"])
        }
        self.shipRunningLogs()
        self.needsRefresh = true
    }

    /// The lease is lost: other hosts may be running this host's jobs by now, so everything it
    /// runs is killed (each supervisor with SIGKILL, which takes its task's leader along, and
    /// whatever else carries the attempt's run key) and every job is forgotten unrecorded. Then
    /// the host registers again (a new epoch) and takes back whatever nobody rescued meanwhile.
    func loseLease() {
        let lease = self.hosting?.lease
        self.logger.error(
            "lease lost: killing every task this host runs; its jobs belong to whichever host rescues them",
            ["host": lease?.host ?? "?", "epoch": "\(lease?.epoch ?? 0)", "tasks": "\(self.running.count)", "jobs": "\(self.active.count)"])
        self.watchdog?.disarm()
        // A firing of the watchdog is about this lease, lost now: once the host holds a new one,
        // the run loop must not take that old firing for a loss of the new lease (it did, when
        // a failed renewal found the loss before the loop saw the firing: two losses logged and
        // a second epoch thrown away).
        _ = self.watchdog?.takeFired()
        self.hosting?.lease = nil
        self.hosting?.renewAt = nil
        self.publishHost()
        self.lose(jobs: Set(self.active.keys), log: false)
        self.slotsInUse = 0
        self.resources = ResourcePool()
        guard self.register() else { return }
        self.recover()
        self.killUnowned()
        self.needsRefresh = true
    }

    /// Claims jobs for this host: as many new ones as it has process slots not promised to the
    /// jobs it holds, and every job with a cancel request nobody holds; acts on cancel requests
    /// for jobs it holds.
    func claimJobs(draining: Bool) {
        guard let hosting = self.hosting, let lease = hosting.lease else { return }
        let limits = self.shared.limits.withLock { $0 }
        let request = ClaimRequest(
            limit: max(0, self.configuration.parallelism - self.active.count), concurrency: limits.concurrency, draining: draining)
        let claims: Claims
        do { claims = try hosting.store.claim(lease, request) } catch {
            self.logger.error("cannot claim jobs", ["error": "\(error)"])
            return
        }
        for record in claims.jobs where self.active[record.id] == nil {
            guard let job = self.load(record.id) else { continue }
            self.active[record.id] = job
            self.logger.debug("job claimed", ["job.id": "\(record.id)", "host": lease.host])
        }
        for id in claims.cancelRequested + claims.jobs.filter(\.cancelRequested).map(\.id)
        where self.active[id]?.cancelling == false {
            self.cancel(id)
        }
    }

    /// Drops jobs this host no longer owns: kills their running attempts (unrecorded: the owner
    /// records what happens to them) and forgets their pending changes, claims and timers.
    func lose(jobs ids: Set<Int64>, log: Bool = true) {
        guard !ids.isEmpty else { return }
        for (token, task) in self.running where ids.contains(task.job) {
            self.killAttempt(task)
            self.running.removeValue(forKey: token)
            self.unwatched.remove(token)
            self.slotsInUse -= 1
            self.release(task.resources)
        }
        for claim in self.claims where ids.contains(claim.job) {
            self.slotsInUse -= 1
            self.release(claim.resources)
        }
        self.claims.removeAll { ids.contains($0.job) }
        for id in ids {
            self.active.removeValue(forKey: id)
            self.pending.removeValue(forKey: id)
            self.journals.removeValue(forKey: id)
            if log { self.logger.warning("job taken over by another host: stopped here, nothing recorded", ["job.id": "\(id)"]) }
        }
        // Secret values live only in the memory of the host they were given to: the host that
        // has the job now fails it as unable to resume, as after a restart.
        self.shared.secrets.withLock { table in for id in ids { table.removeValue(forKey: id) } }
        self.retryTimers.removeAll { ids.contains($0.job) }
        self.blocked.removeAll { ids.contains($0.job) }
        self.slotQueue.removeAll { ids.contains($0.job) }
        self.slotHead = min(self.slotHead, self.slotQueue.count)
    }

    /// Kills every attempt of this instance still running here that the runner does not track
    /// after taking its jobs back: attempts of jobs another host rescued while this one was away
    /// (a crash and a restart later than the lease), whose supervisors would otherwise run them to
    /// their end beside the rescuer's retry. Called after `recover()` on a shared store.
    func killUnowned() {
        let tracked = Set(self.running.values.map { Array($0.runKey.utf8) })
        let prefix = ProcessIdentity.instancePrefix(logDirectory: self.configuration.logDirectory)
        let unowned = ProcessIdentity.carriers(withPrefix: prefix).filter { !tracked.contains(Array($0.key.utf8)) }
        Self.killAttempts(of: unowned)
        for key in unowned.keys { self.logger.warning("killed an attempt of a job this host no longer owns", ["run_key": key]) }
    }

    /// SIGKILLs the attempts whose processes are `carriers` (by run key): each supervisor, and
    /// every process group its attempt's processes are in (the task's, and any the task made).
    /// Safe from any thread: it touches no runner state.
    static func killAttempts(of carriers: [String: [ProcessIdentity.Carrier]]) {
        for (_, processes) in carriers {
            for carrier in processes where carrier.isSupervisor { kill(carrier.pid, SIGKILL) }
            for group in Set(processes.map(\.processGroup)) {
                TaskProcess.signalGroup(group, SIGKILL)
            }
        }
    }

    /// Queues for the shared store the logs of the attempts running here that changed since their
    /// last copy (with each renewal: every third of the lease), so that every host can show a
    /// running attempt's log (at most that old), and so that the log of an attempt whose host
    /// dies is not lost with the host. Each copy replaces the previous one; the final copy
    /// comes when the attempt ends (`shipLog`). A copy is the whole file, which the supervisor
    /// caps at its head and tail sizes (1 MiB each by default).
    func shipRunningLogs() {
        guard let shipper = self.shipper else { return }
        for (token, task) in self.running {
            guard let job = self.active[task.job] else { continue }
            let name = job.record.tasks[task.index].name
            let attempt = job.attempts[task.index]
            let path = Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: task.job, task: name, attempt: attempt)
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let stamp = LogStamp(size: Int(info.st_size), modified: info.st_mtim)
            guard stamp != task.shippedLog else { continue }
            self.running[token]?.shippedLog = stamp
            shipper.ship(LogShipper.Item(jobID: task.job, task: name, attempt: attempt, path: path))
        }
    }

    /// Queues the log of the attempt of task `index` of job `job` that just ended for the shared
    /// store (nothing on a store of one host, whose logs are all here).
    func shipLog(job id: Int64, index: Int) {
        guard let shipper = self.shipper, let job = self.active[id] else { return }
        let name = job.record.tasks[index].name
        let attempt = job.attempts[index]
        shipper.ship(
            LogShipper.Item(
                jobID: id, task: name, attempt: attempt,
                path: Runner.logPath(logDirectory: self.configuration.logDirectory, jobID: id, task: name, attempt: attempt)))
    }

    /// Publishes the lease for `Runner.host`.
    func publishHost() {
        guard let hosting = self.hosting else { return }
        let status = Runner.HostStatus(
            id: hosting.settings.id, epoch: hosting.lease?.epoch, validUntil: hosting.lease == nil ? nil : hosting.validUntil)
        self.shared.host.withLock { $0 = status }
    }
}
