import Foundation
import Supervisor

/// What an attempt's end means for its task, decided from the supervisor's status file and
/// what the runner knows (cancel requested, Sluice stopping). Pure: no process, no store.
enum AttemptOutcome: Equatable {
    /// The task succeeded; `note` (a log cut short) is shown on it.
    case succeeded(exitCode: Int32, note: String?)
    /// The attempt failed; the task is retried if its policy allows, else failed.
    case failed(exitCode: Int32?, message: String)
    /// The job was cancelled while the attempt ran.
    case cancelled(exitCode: Int32?)
}

/// The rules that turn an ended attempt into an `AttemptOutcome`.
enum OutcomeRules {
    /// What the runner knows about the attempt besides its status.
    struct Context: Equatable {
        /// The task's argv[0], for "cannot start" messages.
        var program: String
        /// The directory it ran in.
        var workingDirectory: String
        /// Its timeout, for "timed out after" messages.
        var timeout: Double?
        /// Its job has a cancel request.
        var cancelling = false
        /// Sluice is stopping its tasks (`stopTasksOnExit`).
        var stopping = false
        /// The `creates` path the task must leave behind on success, if it has one and the file
        /// is missing (the caller checks the file system).
        var missingOutput: String? = nil
    }

    /// The message of an attempt Sluice's stop cut short.
    static let stoppedBySluice = "interrupted: Sluice stopped while the task was running"

    /// Decides the outcome; `status` is nil when the supervisor ended without writing one
    /// (killed, or its disk was full).
    static func outcome(of status: SupervisorStatus?, _ context: Context) -> AttemptOutcome {
        guard let status else {
            if context.cancelling { return .cancelled(exitCode: nil) }
            return .failed(exitCode: nil, message: "interrupted: the task's supervisor ended without recording an outcome")
        }
        if let step = status.spawnStep {
            let reason = TaskProcess.SpawnError(
                "cannot start \(context.program) in \(context.workingDirectory)", errno: status.spawnErrno ?? 0, function: step)
            return context.cancelling ? .cancelled(exitCode: nil) : .failed(exitCode: 127, message: reason.reason)
        }
        let code = status.exitCode
        if context.cancelling { return .cancelled(exitCode: code) }
        if context.stopping { return .failed(exitCode: code, message: Self.stoppedBySluice) }
        if let signal = status.stopSignal {
            // Someone other than Sluice's cancel stopped the supervisor (a service manager that
            // killed the whole control group, an operator): the work was cut short.
            return .failed(exitCode: code, message: "interrupted: the task's supervisor received signal \(signal)")
        }
        if status.timedOut {
            return .failed(exitCode: code, message: "timed out after \(RunnerLoop.seconds(context.timeout ?? 0))")
        }
        let note = status.logFailure.map { "log incomplete: \($0)" }
        if code == 0 {
            if let path = context.missingOutput { return .failed(exitCode: 0, message: "exited with status 0 but did not create \(path)") }
            return .succeeded(exitCode: 0, note: note)
        }
        let failure = status.exitSignal.map { "killed by signal \($0)" } ?? "exited with status \(code ?? -1)"
        return .failed(exitCode: code, message: note.map { "\(failure); \($0)" } ?? failure)
    }
}
