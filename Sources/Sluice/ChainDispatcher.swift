import ByteStrings
import Foundation
import JobStore
import Locking
import Logging
import Policy
import Workflow

/// Triggers what finished jobs chain to (`on_success`, `on_failure`), reading the store's job
/// events (`JobEvent`) from its own cursor (`consumer`).
///
/// Each chained job is submitted with the idempotency key `chain:<job>:<state>:<index>` and the
/// cursor moves past an event only after its chains were submitted, so a crash in between, or
/// two hosts reading the same events, trigger each chain of a job once. A chain runs as the
/// principal `chain:<pipeline>` (identity source `chain`) with its configured roles, authorized
/// and audited like any trigger; a chain the policy or the target's parameters refuse is audited
/// as refused and skipped. A new store (no cursor yet) starts at its latest event: history is
/// not replayed.
final class ChainDispatcher: Sendable {
    /// The cursor's name in the store.
    static let consumer = "chains"
    /// Events read per pass.
    static let pageSize = 100
    /// How often the store is asked for new events.
    static let interval: TimeInterval = 1

    private let app: App
    private let logger = Logger(label: "chains")
    private let loop = BackgroundLoop()
    /// When events were last pruned.
    private let lastPrune = Locked(Date.distantPast)

    /// How often events every reader has passed are deleted, and how many at most each time.
    static let pruneInterval: TimeInterval = 600
    static let pruneLimit = 10_000

    init(app: App) { self.app = app }

    /// Handles the events after the cursor, at most one page; returns whether a whole page was
    /// read (more may wait). Events of pipelines without chains are only passed over.
    ///
    /// The cursor is written once per page, after the last event handled (also when a later one
    /// failed): a busy store ends thousands of jobs a second, and one write per event would
    /// double its writes. A crash inside a page hands its events out again, which the
    /// idempotency keys make harmless.
    @discardableResult
    func pass() -> Bool {
        let store = self.app.store
        do {
            let cursor = try store.eventCursor(Self.consumer) ?? store.advanceEventCursor(Self.consumer, to: nil)
            let events = try store.jobEvents(after: cursor, limit: Self.pageSize)
            let snapshot = self.app.currentSnapshot
            var handled: Int64? = nil
            var failure: (any Error)? = nil
            for event in events {
                do {
                    if event.state.isTerminal, let pipeline = snapshot.pipeline(named: event.pipeline) {
                        let chains = pipeline.chains.filter { $0.on == event.state }
                        if !chains.isEmpty { try self.trigger(chains, after: event, from: pipeline, snapshot: snapshot) }
                    }
                    handled = event.id
                } catch {
                    failure = error
                    break
                }
            }
            if let handled { try store.advanceEventCursor(Self.consumer, to: handled) }
            if let failure { throw failure }
            self.pruneIfDue(store)
            // Only a full page handled and recorded asks for another pass at once: a failure
            // waits for the next interval instead of spinning on the same events.
            return events.count == Self.pageSize
        } catch {
            self.logger.error("cannot read or act on job events; retrying", ["error": "\(error)"])
            return false
        }
    }

    /// Deletes the events every reader has passed, at most every `pruneInterval`: the outbox
    /// would otherwise grow by two rows per job forever.
    func pruneIfDue(_ store: any JobStore, now: Date = Date()) {
        let due = self.lastPrune.withLock { last -> Bool in
            guard now.timeIntervalSince(last) >= Self.pruneInterval else { return false }
            last = now
            return true
        }
        guard due else { return }
        do {
            let pruned = try store.pruneJobEvents(limit: Self.pruneLimit)
            if pruned > 0 { self.logger.info("pruned job events every reader has passed", ["events": "\(pruned)"]) }
        } catch {
            self.logger.warning("cannot prune job events", ["error": "\(error)"])
        }
    }

    /// Submits `chains` after the job of `event`.
    /// - Throws: what the store throws: the event is then handled again at the next pass.
    func trigger(_ chains: [PipelineChain], after event: JobEvent, from source: PipelineDefinition, snapshot: ConfigurationSnapshot) throws
    {
        guard let job = try self.app.store.jobs(JobQuery(limit: 1, ids: [event.jobID])).first else { return }
        let principal = PipelineChain.principal(of: source.name)
        let endedAs = event.state
        for chain in chains {
            let what = "\(chain.on == .succeeded ? "on_success" : "on_failure")[\(chain.index)] of job \(job.id) (\(source.name))"
            func record(_ allowed: Bool, _ reason: String, pipeline: String, jobID: Int64? = nil) -> AuditRecord {
                AuditRecord(
                    at: Date(), event: "trigger", allowed: allowed, user: principal, identitySource: PipelineChain.identitySource,
                    pipeline: pipeline, jobID: jobID, reason: "\(what): \(reason)", requestID: nil, clientAddress: nil,
                    configHash: snapshot.configuration.hash)
            }
            guard let target = snapshot.pipeline(named: chain.trigger) else {
                try self.app.store.appendAudit(record(false, "no pipeline \(chain.trigger)", pipeline: chain.trigger))
                continue
            }
            let values: [String: String]
            do { values = try target.resolveParameters(chain.values(after: job, endedAs: endedAs)) } catch {
                let fields = error.fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
                try self.app.store.appendAudit(record(false, "invalid parameters (\(fields))", pipeline: target.name))
                self.logger.warning("a chained job's parameters were refused", ["chain": what, "errors": fields])
                continue
            }
            let (stored, secret) = target.separateSecrets(values)
            let (subject, policy) = Self.authority(of: chain, principal: principal, in: snapshot.policy)
            guard case .allow(let role, let grant) = policy.decide(subject, .trigger, pipeline: target.name, parameters: stored)
            else {
                try self.app.store.appendAudit(
                    record(false, "roles \(chain.roles.joined(separator: ", ")) may not trigger", pipeline: target.name))
                self.logger.warning("a chained job was not allowed", ["chain": what, "pipeline": target.name])
                continue
            }
            let submission = try self.app.submit(
                target, stored: stored, secret: secret, triggeredBy: principal, identitySource: PipelineChain.identitySource,
                idempotencyKey: chain.idempotencyKey(jobID: job.id, eventID: event.id), snapshot: snapshot,
                audit: record(true, "roles.\(role).grants[\(grant)]", pipeline: target.name))
            switch submission {
            case .created(let created):
                self.app.runner?.wake()
                self.logger.info("chained job triggered", ["job.id": "\(created.id)", "after": "\(job.id)", "pipeline": target.name])
            case .existing: break
            case .refused(let refusal):
                try self.app.store.appendAudit(record(false, "refused: \(refusal)", pipeline: target.name))
                self.logger.warning("a chained job was refused", ["chain": what, "reason": "\(refusal)"])
            }
        }
    }

    /// The subject a chain acts as, and the policy it is judged by: exactly the chain's roles,
    /// assigned directly, in a policy of those roles alone (no default role, no other role that
    /// lists the principal among its users).
    static func authority(of chain: PipelineChain, principal: String, in policy: Policy) -> (Subject, Policy) {
        let names = Set(chain.roles.map { ByteString($0) })
        return (
            Subject(user: principal, roles: names),
            Policy(roles: policy.roles.filter { names.contains(ByteString($0.name)) }, defaultRole: nil)
        )
    }

    /// Reads events on a background thread until `stop()`: every `interval`, at once again
    /// while pages are full.
    func start() {
        self.loop.start(name: "sluice.chains") { [self] in self.pass() ? 0 : Self.interval }
    }

    /// Stops the thread after its current pass, waiting for it (at most `timeout` seconds) so
    /// no chained job is being submitted while the server stops.
    func stop(timeout: TimeInterval = 10) { self.loop.stop(timeout: timeout) }
}
