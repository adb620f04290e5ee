import Foundation
import JobStore
import Logging

/// Ends jobs that waited for approvers past their time (`expired`), every few seconds, each with
/// an audit record (event `expire`, no user: nobody decided) and a job event for webhooks.
final class ApprovalExpiry: Sendable {
    /// How often the store is asked.
    static let interval: TimeInterval = 5

    private let app: App
    private let logger = Logger(label: "approvals")
    private let loop = BackgroundLoop()

    init(app: App) { self.app = app }

    /// Expires what is due at `now`; returns the jobs ended.
    @discardableResult
    func pass(now: Date = Date()) -> [JobRecord] {
        let audit = AuditRecord(
            at: now, event: "expire", allowed: false, user: nil, identitySource: nil, pipeline: nil, jobID: nil,
            reason: "not approved in time", requestID: nil, clientAddress: nil, configHash: self.app.currentSnapshot.configuration.hash)
        do {
            let expired = try self.app.store.expireApprovals(now: now, audit: audit)
            for job in expired {
                self.app.runner?.forgetSecrets(of: job.id)
                self.app.changes.notify(job.id)
                self.logger.info("job expired awaiting approval", ["job.id": "\(job.id)", "pipeline": job.pipeline])
            }
            self.forgetSecretsOfEndedJobs()
            return expired
        } catch {
            self.logger.error("cannot expire jobs awaiting approval; retrying", ["error": "\(error)"])
            return []
        }
    }

    /// Drops the secret values this process keeps for jobs that ended without it (another host
    /// of a shared store rejected, expired or cancelled them while they awaited approval).
    func forgetSecretsOfEndedJobs() {
        guard let runner = self.app.runner else { return }
        for id in runner.jobsWithSecrets {
            do {
                // A job that is gone (retention) or ended needs its secrets no more.
                if try self.app.store.jobStamp(id: id)?.state.isTerminal ?? true { runner.forgetSecrets(of: id) }
            } catch {
                return  // the store is unwell: try again at the next pass
            }
        }
    }

    /// Runs passes on a background thread until `stop()`.
    func start() {
        self.loop.start(name: "sluice.approvals") { [self] in
            self.pass()
            return Self.interval
        }
    }

    /// Stops the thread after its current pass.
    func stop(timeout: TimeInterval = 10) { self.loop.stop(timeout: timeout) }
}
