import ByteStrings
import Foundation
import JobStore
import Logging
import Supervisor
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// What happens when an attempt ends: its outcome read from the journal, classified
/// (`OutcomeRules`) and settled, retried or failed.
extension RunnerLoop {
    // MARK: - Outcomes

    /// A supervisor exited: read the outcome it recorded and apply it.
    func attemptEnded(_ token: UInt64) {
        FaultPoint.duringCompletion.check()
        guard let task = self.running.removeValue(forKey: token) else { return }
        self.slotsInUse -= 1
        task.process.close()
        self.release(task.resources)
        var status: SupervisorStatus? = nil
        var legacyPath: String? = nil
        if task.adopted, let job = self.active[task.job] {
            legacyPath = self.legacyStatusPath(task.job, job.record.tasks[task.index].name, job.attempts[task.index])
        }
        do { status = try self.recordedOutcome(job: task.job, runKey: task.runKey, legacyPath: legacyPath) } catch {
            self.logger.error("unusable supervisor status", ["job.id": "\(task.job)", "run_key": task.runKey, "error": error.description])
        }
        if status == nil {
            // The supervisor died without an outcome (SIGKILL, a full disk): its task's leader
            // got SIGKILL with it (PDEATHSIG); anything else left in the group goes now.
            self.killLeftovers(of: task)
        }
        self.shipLog(job: task.job, index: task.index)
        let seconds = task.adopted ? nil : (ContinuousClock.now - task.started).inSeconds
        self.apply(status, job: task.job, index: task.index, attemptSeconds: seconds)
    }

    /// Applies an ended attempt's status (nil: none was recorded) through `OutcomeRules`.
    func apply(_ status: SupervisorStatus?, job id: Int64, index: Int, attemptSeconds: Double? = nil) {
        guard let job = self.active[id] else { return }
        let definition = job.record.tasks[index]
        let workingDirectory = definition.options.workingDirectory ?? job.record.workingDirectory
        var context = OutcomeRules.Context(
            program: definition.argv.first ?? "", workingDirectory: workingDirectory, timeout: definition.options.timeout,
            cancelling: job.cancelling, stopping: self.stopping)
        if status?.exitCode == 0, let creates = definition.options.creates,
            case let path = Self.resolve(creates, in: workingDirectory), !Self.exists(path)
        {
            context.missingOutput = path
        }
        if let failure = status?.logFailure {
            self.logger.warning("task log cut short", ["job.id": "\(id)", "task": definition.name, "error": failure])
        }
        let outcome = OutcomeRules.outcome(of: status, context)
        if let report = self.configuration.onAttemptEnded {
            let kind: String
            switch outcome {
            case .succeeded: kind = "succeeded"
            case .cancelled: kind = "cancelled"
            case .failed: kind = "failed"
            }
            report(job.record.pipeline, kind, attemptSeconds)
        }
        self.settle(id, index, outcome, finishedAt: status?.finishedAt)
        self.logger.debug(
            "task finished", ["job.id": "\(id)", "task": definition.name, "exit": "\(status?.exitCode.map(String.init) ?? "none")"])
    }

    /// Records an attempt's outcome: success, cancellation, or a failure that is retried if
    /// the policy allows.
    func settle(_ id: Int64, _ index: Int, _ outcome: AttemptOutcome, finishedAt: Date? = nil) {
        guard var job = self.active[id] else { return }
        var changes: [TaskChange]
        switch outcome {
        case .succeeded(let code, let note):
            changes = job.plan.finish(index, as: .succeeded, exitCode: code, message: note)
        case .cancelled(let code):
            changes = job.plan.finish(index, as: .cancelled, exitCode: code, message: "cancelled")
        case .failed(let code, let message):
            changes = self.failOrRetry(&job, index, exitCode: code, message: message)
        }
        if let finishedAt, !changes.isEmpty { changes[0].finishedAt = finishedAt }
        self.pending[id, default: []] += changes
        self.active[id] = job
    }

    /// A failed attempt: queued again after the policy's backoff if attempts remain, else failed
    /// (which skips what depends on it).
    func failOrRetry(_ job: inout ActiveJob, _ index: Int, exitCode: Int32?, message: String) -> [TaskChange] {
        let policy = job.record.tasks[index].options.retry
        let attempts = job.attempts[index]
        guard policy.allowsAnotherAttempt(after: attempts), !job.cancelling else {
            return job.plan.finish(index, as: .failed, exitCode: exitCode, message: message)
        }
        let delay = policy.delay(after: attempts, random: self.configuration.random())
        let due = Date().addingTimeInterval(delay)
        self.retryTimers.append((due, job.record.id, index))
        let note = "\(message); attempt \(attempts + 1) of \(policy.retries + 1) in \(Self.seconds(delay))"
        return [job.plan.queueRetry(index, exitCode: exitCode, message: note, retryAt: due)]
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1f s", value) : "\(Int(value.rounded())) s"
    }
}
