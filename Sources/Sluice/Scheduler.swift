import ByteStrings
import Foundation
import JobStore
import Locking
import Logging
import Scheduling
import Workflow

/// Fires the pipelines' schedules: at each tick, every schedule whose kept mark (`ScheduleMark`)
/// has passed triggers what its missed-run policy says is due, as any trigger would (duplicate
/// rule, queue bound, audit), under the principal `schedule:<name>`; then its mark moves to the
/// next fire time after now.
///
/// Each run is submitted with the idempotency key `schedule:<name>:<fire time in ms>`, so a
/// crash between the commit of the job and the move of the mark, or two hosts of a shared store
/// ticking at once, triggers the run once: the second submission is answered with the first job.
/// The mark moves compare-and-set, so only one host moves it. A schedule seen for the first time,
/// or whose expression or zone changed, starts from now (nothing is caught up for it).
final class Scheduler: Sendable {
    private let app: App
    private let logger = Logger(label: "scheduler")
    private let loop = BackgroundLoop()

    /// Longest sleep between ticks: a reload that adds a schedule is seen within this.
    static let maxSleep: TimeInterval = 30

    init(app: App) { self.app = app }

    /// One pass at `now` with the configuration in force; returns the earliest next fire time
    /// of any schedule (nil: none). A schedule whose store calls fail is left for the next tick.
    @discardableResult
    func tick(now: Date = Date()) -> Date? {
        let snapshot = self.app.currentSnapshot
        let schedules = snapshot.configuration.pipelines.keys.sorted().flatMap { name in
            snapshot.configuration.pipelines[name]!.schedules.map { (snapshot.configuration.pipelines[name]!, $0) }
        }
        guard !schedules.isEmpty else { return nil }
        if self.app.drain?.status.draining == true { return now.addingTimeInterval(Self.maxSleep) }
        let marks: [ByteString: ScheduleMark]
        do {
            marks = Dictionary(try self.app.store.scheduleMarks().map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            self.logger.error("cannot read the schedules' marks; retrying", ["error": "\(error)"])
            return now.addingTimeInterval(5)
        }
        var earliest: Date? = nil
        for (pipeline, schedule) in schedules {
            let kept = marks[ByteString(schedule.name)]
            if let next = self.advance(pipeline, schedule, kept: kept, now: now, snapshot: snapshot) {
                earliest = min(earliest ?? next, next)
            }
        }
        return earliest
    }

    /// Fires what is due of one schedule and moves its mark; returns its next fire time.
    private func advance(
        _ pipeline: PipelineDefinition, _ schedule: PipelineSchedule, kept: ScheduleMark?, now: Date, snapshot: ConfigurationSnapshot
    ) -> Date? {
        let fingerprint = schedule.fingerprint
        do {
            let next = schedule.schedule.next(after: now)
            if let kept, kept.fingerprint.utf8.elementsEqual(fingerprint.utf8) {
                // A mark later than the next fire time from now was set by a clock that ran
                // ahead (this host's before a correction, or another host's): trusting it would
                // silence the schedule until then. It is reset below, from now.
                if kept.nextFireAt > now, let next, kept.nextFireAt <= next { return kept.nextFireAt }
                if kept.nextFireAt > now {
                    self.logger.warning(
                        "a schedule's kept next run is later than its next run from now; starting from now",
                        ["schedule": schedule.name, "kept": "\(kept.nextFireAt)"])
                }
                if kept.nextFireAt <= now {
                    for time in schedule.missed.due(schedule.schedule, mark: kept.nextFireAt, now: now) {
                        try self.fire(pipeline, schedule, at: time, snapshot: snapshot)
                    }
                }
            } else if let kept {
                // Kept for another expression or zone: a reload changed it (or another host runs
                // another configuration, which would reset it back; hence the warning).
                self.logger.warning(
                    "a schedule's definition changed; starting from now", ["schedule": schedule.name, "kept": kept.fingerprint])
            }
            guard let next else { return nil }
            let mark = ScheduleMark(name: schedule.name, nextFireAt: next, fingerprint: fingerprint)
            if try !self.app.store.moveScheduleMark(from: kept, to: mark) {
                self.logger.info("another host moved the schedule first", ["schedule": schedule.name])
            }
            return next
        } catch {
            self.logger.error("cannot run a schedule; retrying", ["schedule": schedule.name, "error": "\(error)"])
            return now.addingTimeInterval(5)
        }
    }

    /// Triggers the run of `schedule` due at `time`. A run its pipeline refuses (parameters, a
    /// full queue, a duplicate) is audited and logged, and counts as done: the schedule goes on.
    /// - Throws: what the store throws (the run is then tried again at the next tick).
    func fire(_ pipeline: PipelineDefinition, _ schedule: PipelineSchedule, at time: Date, snapshot: ConfigurationSnapshot) throws {
        let when = FireTimeTemplate.iso(time, in: schedule.schedule.timeZone)
        func record(_ allowed: Bool, _ reason: String, job: Int64? = nil) -> AuditRecord {
            AuditRecord(
                at: Date(), event: "trigger", allowed: allowed, user: schedule.principal, identitySource: PipelineSchedule.identitySource,
                pipeline: pipeline.name, jobID: job, reason: reason, requestID: nil, clientAddress: nil,
                configHash: snapshot.configuration.hash)
        }
        let values: [String: String]
        do { values = try pipeline.resolveParameters(schedule.values(at: time)) } catch {
            let fields = error.fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            try self.app.store.appendAudit(record(false, "schedule \(schedule.name) at \(when): invalid parameters (\(fields))"))
            self.logger.warning("a scheduled run's parameters were refused", ["schedule": schedule.name, "at": when, "errors": fields])
            return
        }
        let (stored, secret) = pipeline.separateSecrets(values)
        let key = "schedule:\(schedule.name):\(StoredTime.milliseconds(time))"
        let submission = try self.app.submit(
            pipeline, stored: stored, secret: secret, triggeredBy: schedule.principal, identitySource: PipelineSchedule.identitySource,
            idempotencyKey: key, snapshot: snapshot, audit: record(true, "schedule \(schedule.name) at \(when)"))
        switch submission {
        case .created(let job):
            self.app.runner?.wake()
            self.logger.info(
                "scheduled job triggered", ["job.id": "\(job.id)", "pipeline": pipeline.name, "schedule": schedule.name, "at": when])
        case .existing(let job, _):
            self.logger.info("scheduled run already triggered", ["job.id": "\(job.id)", "schedule": schedule.name, "at": when])
        case .refused(let refusal):
            let reason: String
            var job: Int64? = nil
            switch refusal {
            case .queueFull(let limit): reason = "queue full (\(limit) unfinished jobs)"
            case .duplicate(let id):
                reason = "duplicate of unfinished job \(id)"
                job = id
            case .idempotencyKeyReused(let id):
                reason = "run already triggered with other parameters"
                job = id
            }
            try self.app.store.appendAudit(record(false, "schedule \(schedule.name) at \(when): \(reason)", job: job))
            self.logger.warning("a scheduled run was refused", ["schedule": schedule.name, "at": when, "reason": reason])
        }
    }

    /// Ticks on a background thread until `stop()`: at each schedule's next fire time, at least
    /// every `maxSleep` seconds, and at once after `wake()` (a reload).
    func start() {
        self.loop.start(name: "sluice.scheduler") { [self] in
            let now = Date()
            let next = self.tick(now: now)
            return min(Self.maxSleep, max(0.05, (next ?? now.addingTimeInterval(Self.maxSleep)).timeIntervalSince(Date())))
        }
    }

    /// Ticks now (after a reload).
    func wake() { self.loop.wake() }

    /// Stops the thread after its current tick, waiting for it (at most `timeout` seconds) so no
    /// run is being submitted while the server stops.
    func stop(timeout: TimeInterval = 10) { self.loop.stop(timeout: timeout) }
}
