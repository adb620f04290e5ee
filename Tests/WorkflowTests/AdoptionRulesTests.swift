import Foundation
import Supervisor
import Testing

@testable import Workflow

@Suite struct AdoptionRulesTests {
    typealias Carrier = ProcessIdentity.Carrier

    static let start = Date(timeIntervalSince1970: 1_796_300_000)

    /// A supervisor: leads its own session (and process group).
    static func leader(_ pid: Int32, startedAt: Date? = start) -> Carrier {
        Carrier(pid: pid, processGroup: pid, session: pid, startedAt: startedAt)
    }

    /// A task (or one of its children): in its supervisor's session, in a group of its own.
    static func task(_ pid: Int32, group: Int32, session: Int32) -> Carrier {
        Carrier(pid: pid, processGroup: group, session: session, startedAt: start)
    }

    static func status() throws -> SupervisorStatus {
        let text = """
            version=1
            run_key=ab12/3/t/1
            task_pid=501
            started_at_ms=1796300000000
            finished_at_ms=1796300001000
            exit_status=0
            log_bytes=0
            log_omitted=0

            """
        return try SupervisorStatus(parsing: Array(text.utf8))
    }

    @Test("A session leader carrying the key with the recorded pid is watched")
    func watchRecordedLeader() throws {
        let carriers = [Self.task(501, group: 501, session: 500), Self.leader(500)]
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: carriers) == .watch(supervisor: 500))
        // An outcome recorded after the scan saw the supervisor alive wins: recording it is the
        // supervisor's last act, and a journal hands its record out only once, so watching the
        // exiting supervisor would find no outcome at its exit and retry an attempt that ran
        // (seen in CrashRecoveryTests.randomKills). Leftovers are the task's group, not the
        // supervisor's own.
        let status = try Self.status()
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: status, carriers: carriers)
                == .finished(status, leftovers: [501]))
    }

    @Test("Without a recorded pid any session leader carrying the key is watched")
    func watchWithoutRecordedPID() {
        #expect(
            AdoptionRules.decide(recordedPID: nil, recordedStart: nil, status: nil, carriers: [Self.leader(77)]) == .watch(supervisor: 77))
        #expect(
            AdoptionRules.decide(
                recordedPID: nil, recordedStart: Self.start, status: nil,
                carriers: [Self.task(78, group: 78, session: 77), Self.leader(77)])
                == .watch(supervisor: 77))
    }

    @Test("A task that called setsid() leads a session but does not name the key on its command line: never watched")
    func setsidTaskNotWatched() throws {
        let escaped = Carrier(pid: 90, processGroup: 90, session: 90, startedAt: Self.start, namesKey: false)
        #expect(
            AdoptionRules.decide(recordedPID: nil, recordedStart: Self.start, status: nil, carriers: [escaped])
                == .interrupted(leftovers: [90], reason: OutcomeRules.stoppedBySluice))
        #expect(
            AdoptionRules.decide(recordedPID: nil, recordedStart: Self.start, status: nil, carriers: [escaped, Self.leader(77)])
                == .watch(supervisor: 77))
    }

    @Test("A carrier that does not lead its session is never watched, even with the recorded pid")
    func nonLeaderNeverWatched() {
        let task = Self.task(600, group: 600, session: 599)
        #expect(
            AdoptionRules.decide(recordedPID: 600, recordedStart: Self.start, status: nil, carriers: [task])
                == .interrupted(leftovers: [600], reason: OutcomeRules.stoppedBySluice))
        #expect(
            AdoptionRules.decide(recordedPID: nil, recordedStart: nil, status: nil, carriers: [task])
                == .interrupted(leftovers: [600], reason: OutcomeRules.stoppedBySluice))
    }

    @Test("A session leader whose pid differs from the recorded one is not watched")
    func pidMismatch() {
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: [Self.leader(501)])
                == .interrupted(leftovers: [501], reason: OutcomeRules.stoppedBySluice))
    }

    @Test("A session leader that started more than 5 s before the recorded start is not watched; up to 5 s earlier it is")
    func startTolerance() {
        #expect(AdoptionRules.startTolerance == 5)
        let early = Self.leader(500, startedAt: Self.start.addingTimeInterval(-5.5))
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: [early])
                == .interrupted(leftovers: [500], reason: OutcomeRules.stoppedBySluice))
        for offset in [-5.0, -4.9, 0, 3600] {
            let leader = Self.leader(500, startedAt: Self.start.addingTimeInterval(offset))
            #expect(
                AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: [leader])
                    == .watch(supervisor: 500),
                "offset \(offset)")
        }
    }

    @Test("An unknown start time on either side does not prevent watching")
    func unknownStartTimes() {
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: [Self.leader(500, startedAt: nil)])
                == .watch(supervisor: 500))
        let ancient = Self.leader(500, startedAt: Date(timeIntervalSince1970: 0))
        #expect(AdoptionRules.decide(recordedPID: 500, recordedStart: nil, status: nil, carriers: [ancient]) == .watch(supervisor: 500))
    }

    @Test("The first qualifying leader is watched when an unqualified one comes earlier")
    func firstQualifying() {
        let carriers = [
            Self.leader(400, startedAt: Self.start.addingTimeInterval(-60)), Self.task(402, group: 402, session: 401), Self.leader(401),
        ]
        #expect(
            AdoptionRules.decide(recordedPID: nil, recordedStart: Self.start, status: nil, carriers: carriers) == .watch(supervisor: 401))
    }

    @Test("With a status and no supervisor to watch, the attempt finished and every carrier's group is a leftover")
    func finishedWithLeftovers() throws {
        let status = try Self.status()
        let carriers = [
            Self.task(700, group: 650, session: 640), Self.task(701, group: 650, session: 640), Self.task(702, group: 702, session: 702),
            Self.leader(800),
        ]
        #expect(
            AdoptionRules.decide(recordedPID: 999, recordedStart: Self.start, status: status, carriers: carriers)
                == .finished(status, leftovers: [650, 702, 800]))
        #expect(
            AdoptionRules.decide(recordedPID: 999, recordedStart: Self.start, status: status, carriers: [])
                == .finished(status, leftovers: []))
    }

    @Test("Without a status or a supervisor the attempt was interrupted, with the default reason")
    func interruptedDefault() {
        #expect(
            AdoptionRules.decide(recordedPID: 500, recordedStart: Self.start, status: nil, carriers: [])
                == .interrupted(leftovers: [], reason: "interrupted: Sluice stopped while the task was running"))
        #expect(
            AdoptionRules.decide(
                recordedPID: 500, recordedStart: Self.start, status: nil,
                carriers: [Self.task(9, group: 8, session: 7), Self.task(10, group: 8, session: 7)])
                == .interrupted(leftovers: [8], reason: "interrupted: Sluice stopped while the task was running"))
    }

    @Test("An unusable status file's problem becomes the interruption's reason")
    func interruptedWithProblem() {
        #expect(
            AdoptionRules.decide(
                recordedPID: 500, recordedStart: Self.start, status: nil,
                statusProblem: "malformed supervisor status: repeated key run_key",
                carriers: [Self.task(9, group: 8, session: 7)])
                == .interrupted(leftovers: [8], reason: "interrupted: malformed supervisor status: repeated key run_key"))
    }

    @Test("A live supervisor is watched even when the status file was unusable")
    func watchDespiteProblem() {
        #expect(
            AdoptionRules.decide(
                recordedPID: 500, recordedStart: Self.start, status: nil, statusProblem: "torn", carriers: [Self.leader(500)])
                == .watch(supervisor: 500))
    }
}
