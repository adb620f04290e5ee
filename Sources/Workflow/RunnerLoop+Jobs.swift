import ByteStrings
import Foundation
import JobStore
import Logging
import Supervisor
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Taking jobs on: admission, recovery at start, loading and re-adopting a job's attempts,
/// cancelling and killing.
extension RunnerLoop {
    // MARK: - Jobs

    /// Loads jobs the runner does not hold yet, if `Admission` admits them, and acts on new
    /// cancel requests.
    func refresh() {
        // Read before anything else, so that the counts published after this pass are known
        // to reflect this value (`Runner.Activity.countsSeeDraining`).
        let draining = self.shared.activity.withLock { $0.draining }
        self.drainingSeen = draining
        if self.hosting != nil {
            self.claimJobs(draining: draining)
            return
        }
        let unfinished: [JobRecord]
        do { unfinished = try self.store.unfinishedJobs() } catch {
            self.logger.error("cannot list unfinished jobs", ["error": "\(error)"])
            return
        }
        // Handed-over jobs that are no longer waiting (cancelled before their admission, say)
        // would never be taken: forget them, so they do not fill the table. A job above the
        // highest id listed may have been committed after the list was read: kept (ids grow in
        // commit order, so one at or below it that is not listed is not waiting). The list is in
        // id order.
        if let newest = unfinished.last?.id {
            self.shared.created.withLock { created in
                guard !created.isEmpty else { return }
                let waiting = Set(unfinished.map(\.id))
                created = created.filter { $0.key > newest || waiting.contains($0.key) }
            }
        }
        let limits = self.shared.limits.withLock { $0 }
        let admission = Admission(concurrency: limits.concurrency, draining: draining)
        let admitted = admission.admit(unfinished.map(Admission.Candidate.init), active: self.active.mapValues(\.record.pipeline))
        for id in admitted {
            guard let job = self.load(id) else { continue }
            self.active[id] = job
        }
        for summary in unfinished where summary.cancelRequested && self.active[summary.id]?.cancelling == false {
            self.cancel(summary.id)
        }
    }

    /// On start: takes on every job an earlier process had started, whatever the admission
    /// rules say now (they were admitted then, and their tasks may still run), and re-adopts
    /// their running attempts. So recovery never waits for admission: a concurrency-1
    /// pipeline's task left running is watched again before any other job of it can start.
    func recover() {
        let started: [JobRecord]
        do {
            if let hosting = self.hosting, let lease = hosting.lease {
                // Every unfinished job this host owns (under any earlier epoch) is its own again,
                // queued ones too: no other host may claim them.
                started = try hosting.store.takeOver(lease)
            } else {
                started = try self.store.unfinishedJobs().filter { $0.state == .running }
            }
        } catch {
            self.logger.error("cannot list unfinished jobs", ["error": "\(error)"])
            return
        }
        var records: [JobRecord] = []
        for summary in started {
            do {
                if let record = try self.store.job(id: summary.id) { records.append(record) }
            } catch {
                self.logger.error("cannot load job", ["job.id": "\(summary.id)", "error": "\(error)"])
            }
        }
        let keys = Set(records.flatMap { record in record.tasks.filter { $0.state == .running }.map { self.runKey(record.id, $0) } })
        // One pass over /proc for every attempt of every job.
        let carriers = ProcessIdentity.carriers(of: keys)
        var adopted = 0
        var settled = 0
        for record in records {
            let job = self.activate(record, carriers: carriers, adopted: &adopted, settled: &settled)
            self.active[record.id] = job
        }
        if !keys.isEmpty {
            self.logger.info(
                "recovered running tasks", ["running": "\(keys.count)", "adopted": "\(adopted)", "finished while down": "\(settled)"])
        }
    }

    /// Loads a job into memory (re-adopting or settling any attempt recorded as running).
    func load(_ id: Int64) -> ActiveJob? {
        let record: JobRecord
        do {
            if let handed = self.shared.created.withLock({ $0.removeValue(forKey: id) }) {
                // Created here and not read back (`Runner.wake(created:)`).
                record = handed
            } else {
                guard let found = try self.store.job(id: id) else { return nil }
                record = found
            }
        } catch {
            self.logger.error("cannot load job", ["job.id": "\(id)", "error": "\(error)"])
            return nil
        }
        let running = record.tasks.filter { $0.state == .running }
        let carriers = running.isEmpty ? [:] : ProcessIdentity.carriers(of: Set(running.map { self.runKey(id, $0) }))
        var adopted = 0
        var settled = 0
        return self.activate(record, carriers: carriers, adopted: &adopted, settled: &settled)
    }

    /// Builds the in-memory job and decides, for each attempt recorded as running, whether its
    /// supervisor is watched again, its recorded outcome is taken, or it was lost.
    private func activate(_ record: JobRecord, carriers: [String: [ProcessIdentity.Carrier]], adopted: inout Int, settled: inout Int)
        -> ActiveJob
    {
        let id = record.id
        let secrets = self.shared.secrets.withLock { $0[id] } ?? [:]
        var job = ActiveJob(record: record, plan: JobPlan(tasks: record.tasks), attempts: record.tasks.map(\.attempt), secrets: secrets)
        // Listed even without changes, so a stored state that disagrees with the tasks (e.g. all
        // settled before a crash) is corrected by the next commit.
        self.pending[id, default: []] += []
        self.active[id] = job  // `settle` and `failOrRetry` below work on the active job
        let capacities = self.shared.limits.withLock { $0.resources }
        var unrecorded: [(jobID: Int64, task: String, pid: Int32)] = []
        defer {
            do { try self.store.recordProcesses(unrecorded) } catch {
                self.logger.error("cannot record re-adopted supervisors' pids", ["job.id": "\(id)", "error": "\(error)"])
            }
        }
        for (i, task) in record.tasks.enumerated() where task.state == .running {
            let key = self.runKey(id, task)
            let legacyPath = self.legacyStatusPath(id, task.name, task.attempt)
            var status: SupervisorStatus? = nil
            var problem: String? = nil
            do { status = try self.recordedOutcome(job: id, runKey: key, legacyPath: legacyPath) } catch { problem = error.description }
            let decision = AdoptionRules.decide(
                recordedPID: task.pid, recordedStart: task.startedAt, status: status, statusProblem: problem, carriers: carriers[key] ?? [])
            switch decision {
            case .watch(let pid):
                let process = SupervisedProcess.adopt(pid: pid)
                if let process, self.stillCarries(pid, key) {
                    let held = self.resources.adopt(task.options.resources, capacities: capacities)
                    self.slotsInUse += 1  // may exceed the parallelism until enough of them end
                    self.track(process, job: id, index: i, runKey: key, adopted: true, resources: held)
                    adopted += 1
                    // Found by its run key alone (a crash came between its start and the commit of
                    // its pid): record it now, as for any running attempt.
                    if task.pid != pid { unrecorded.append((id, task.name, pid)) }
                    self.logger.info(
                        "re-adopted running task",
                        ["job.id": "\(id)", "task": task.name, "attempt": "\(task.attempt)", "supervisor.pid": "\(pid)"])
                    continue
                }
                // Gone between the scan and the pidfd: it may have written its outcome since. A
                // pidfd opened meanwhile names a zombie (no environment) or a reused pid: closed.
                process?.close()
                let late = try? self.recordedOutcome(job: id, runKey: key, legacyPath: legacyPath)
                self.settleRecovered(id, i, late, leftovers: Self.groups(carrying: key))
                settled += late == nil ? 0 : 1
            case .finished(let status, let leftovers):
                self.settleRecovered(id, i, status, leftovers: leftovers)
                settled += 1
            case .interrupted(let leftovers, let reason):
                self.settleRecovered(id, i, nil, leftovers: leftovers, reason: reason)
            }
        }
        job = self.active[id]!
        for (i, task) in record.tasks.enumerated() where task.state == .queued {
            if let due = task.retryAt { self.retryTimers.append((due, id, i)) }
        }
        // Secret values live only in memory: after a restart the job cannot get them back.
        let missing = record.secretParameters.filter { job.secrets[$0] == nil }
        if !missing.isEmpty {
            self.pending[id, default: []] += job.plan.failQueued(
                message: "interrupted: secret parameters (\(missing.joined(separator: ", "))) are never stored, "
                    + "so the job cannot resume after a restart; trigger it again")
        }
        self.active.removeValue(forKey: id)
        return job
    }

    /// Whether `pid` (now pinned by a pidfd) still carries `key`: the scan saw it before the
    /// pidfd existed, and in between it could have exited and its pid been reused.
    private func stillCarries(_ pid: Int32, _ key: String) -> Bool {
        ProcessIdentity.carrier(pid: pid, key: key)?.isSupervisor == true
    }

    /// Records the outcome of an attempt that ended while no Sluice watched it, after killing
    /// `leftovers`; nil: the attempt was lost, and is retried or failed with `reason`.
    private func settleRecovered(
        _ id: Int64, _ index: Int, _ status: SupervisorStatus?, leftovers: Set<Int32>, reason: String = OutcomeRules.stoppedBySluice
    ) {
        guard let job = self.active[id] else { return }
        let name = job.record.tasks[index].name
        self.kill(leftovers, job: id, task: name)
        if status != nil {
            self.shipLog(job: id, index: index)
            self.logger.info("task finished while Sluice was down", ["job.id": "\(id)", "task": name])
            self.apply(status, job: id, index: index)
        } else {
            var job = job
            self.pending[id, default: []] += self.failOrRetry(&job, index, exitCode: nil, message: reason)
            self.active[id] = job
        }
    }

    /// SIGKILLs process groups left from an attempt whose supervisor is gone.
    private func kill(_ groups: Set<Int32>, job: Int64, task: String) {
        for group in groups {
            TaskProcess.signalGroup(group, SIGKILL)
            self.logger.warning("killed processes left by a task", ["job.id": "\(job)", "task": task, "process.group": "\(group)"])
        }
    }

    /// Ends an attempt now: SIGKILL to its supervisor (its task's leader dies with it), then to
    /// whatever else carries its run key; closes the supervisor's pidfd. Records nothing.
    func killAttempt(_ task: RunningTask) {
        task.process.signal(SIGKILL)
        self.killLeftovers(of: task)
        task.process.close()
    }

    /// SIGKILLs whatever still carries the run key of `task`, whose supervisor is gone.
    func killLeftovers(of task: RunningTask) {
        let name = self.active[task.job]?.record.tasks[task.index].name ?? "?"
        self.kill(Self.groups(carrying: task.runKey), job: task.job, task: name)
    }

    /// Process groups of live processes carrying `key` (one pass over /proc).
    private static func groups(carrying key: String) -> Set<Int32> { ProcessIdentity.processGroups(carrying: [key])[key] ?? [] }

    func cancel(_ id: Int64) {
        guard var job = self.active[id] else { return }
        job.cancelling = true
        self.pending[id, default: []] += job.plan.cancelQueued()
        self.active[id] = job
        // The supervisor carries out the teardown (SIGTERM to the group, SIGKILL after the
        // grace period), so it completes even if Sluice stops meanwhile.
        for task in self.running.values where task.job == id { task.process.signal(SIGTERM) }
        self.logger.info("job cancelling", ["job.id": "\(id)"])
    }

    func runKey(_ jobID: Int64, _ task: TaskRecord) -> String {
        ProcessIdentity.runKey(logDirectory: self.configuration.logDirectory, jobID: jobID, task: task.name, attempt: task.attempt)
    }

    func legacyStatusPath(_ jobID: Int64, _ task: String, _ attempt: Int) -> String {
        Runner.legacyStatusPath(logDirectory: self.configuration.logDirectory, jobID: jobID, task: task, attempt: attempt)
    }

    /// The outcome the supervisor of `runKey` recorded in job `job`'s status journal, else (for
    /// a supervisor of an earlier Sluice) in its status file at `legacyPath`; nil if neither has
    /// one.
    func recordedOutcome(job: Int64, runKey: String, legacyPath: String?) throws(SupervisorStatus.FormatError)
        -> SupervisorStatus?
    {
        if let status = try self.journals[job, default: self.newJournal(job)].take(runKey: runKey) { return status }
        guard let legacyPath else { return nil }
        return try SupervisorStatus.read(path: legacyPath)
    }

    func newJournal(_ job: Int64) -> StatusJournal {
        StatusJournal(path: Runner.journalPath(logDirectory: self.configuration.logDirectory, jobID: job))
    }
}
