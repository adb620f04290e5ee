import Foundation
import Supervisor

/// What becomes of a task a store records as running when this Sluice process did not start
/// it: decided from its supervisor's status file and the live processes carrying its run key.
/// Pure: the runner gathers the evidence, this decides.
enum Adoption: Equatable {
    /// Its supervisor lives and has recorded no outcome yet: watch it again (the task keeps
    /// running, its log keeps growing).
    case watch(supervisor: Int32)
    /// It finished while Sluice was down: record this outcome. `leftovers` are process groups
    /// still carrying the run key (a child that escaped its group), to be killed.
    case finished(SupervisorStatus, leftovers: Set<Int32>)
    /// Neither a supervisor nor an outcome: the attempt is lost. Kill `leftovers` and retry or
    /// fail the task as interrupted.
    case interrupted(leftovers: Set<Int32>, reason: String)
}

/// The rules behind `Adoption`.
enum AdoptionRules {
    /// How much earlier than the recorded start of the attempt its supervisor may have started
    /// (the store's clock and /proc's boot-relative tick count differ by rounding).
    static let startTolerance: Double = 5

    /// Decides for one running task.
    ///
    /// - Parameters:
    ///   - recordedPID: the supervisor pid the store holds, if it was recorded (a crash between
    ///     spawn and that commit leaves none).
    ///   - recordedStart: when the store says the attempt started.
    ///   - status: the parsed status file, if there is one; `statusProblem` says why one that
    ///     exists could not be used.
    ///   - carriers: live processes carrying the attempt's run key.
    /// - Returns: never `watch` for a pid alone: the process must carry the run key, lead its
    ///   own session and name the run key as its `--run-key` argument (supervisors do, tasks do not), match the recorded pid if there is one, and
    ///   not have started before the attempt did.
    static func decide(
        recordedPID: Int32?, recordedStart: Date?, status: SupervisorStatus?, statusProblem: String? = nil,
        carriers: [ProcessIdentity.Carrier]
    ) -> Adoption {
        let supervisor = carriers.first { carrier in
            guard carrier.isSupervisor else { return false }
            if let recordedPID, carrier.pid != recordedPID { return false }
            if let recordedStart, let started = carrier.startedAt,
                started.timeIntervalSince(recordedStart) < -Self.startTolerance
            {
                return false
            }
            return true
        }
        // A recorded outcome wins over a live supervisor: recording it is the supervisor's last
        // act, so one seen alive by the scan has finished by the time its outcome is read, and
        // watching it would wait for an exit whose outcome was already taken (a journal hands
        // each record out once). Its own group is left alone: it is exiting by itself.
        if let status {
            let others = carriers.filter { $0.pid != supervisor?.pid }
            return .finished(status, leftovers: Set(others.map(\.processGroup)))
        }
        if let supervisor { return .watch(supervisor: supervisor.pid) }
        let leftovers = Set(carriers.map(\.processGroup))
        let reason = statusProblem.map { "interrupted: \($0)" } ?? OutcomeRules.stoppedBySluice
        return .interrupted(leftovers: leftovers, reason: reason)
    }
}
