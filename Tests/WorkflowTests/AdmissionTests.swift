import Foundation
import JobStore
import Testing

@testable import Workflow

@Suite struct AdmissionTests {
    typealias Candidate = Admission.Candidate

    static func job(_ id: Int64, _ pipeline: String = "p", identity: String = "", waits: Bool = false, cancel: Bool = false) -> Candidate {
        Candidate(id: id, pipeline: pipeline, identity: identity, waitsForIdentity: waits, cancelRequested: cancel)
    }

    @Test("Without limits every waiting job is admitted, in the order given")
    func unlimited() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [Self.job(7, "b"), Self.job(3, "a"), Self.job(5, "b"), Self.job(1, "c")]
        #expect(admission.admit(jobs, active: [:]) == [7, 3, 5, 1])
    }

    @Test("Jobs already active are not admitted again")
    func activeSkipped() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [Self.job(1), Self.job(2), Self.job(3)]
        #expect(admission.admit(jobs, active: [2: "p"]) == [1, 3])
    }

    @Test("A pipeline's limit counts the jobs admitted earlier in the same pass")
    func limitCountsEarlierAdmissions() {
        let admission = Admission(concurrency: ["p": 2], draining: false)
        let jobs = [Self.job(1), Self.job(2, "q"), Self.job(3), Self.job(4), Self.job(5, "q")]
        #expect(admission.admit(jobs, active: [:]) == [1, 2, 3, 5])
    }

    @Test("A pipeline's limit counts active jobs, including ones no longer in the unfinished list")
    func limitCountsActiveJobs() {
        let admission = Admission(concurrency: ["p": 2], draining: false)
        // Job 1 is active and listed; job 99 is active but not listed (its row is being finished).
        let jobs = [Self.job(1), Self.job(2), Self.job(3)]
        #expect(admission.admit(jobs, active: [1: "p"]) == [2])
        #expect(admission.admit(jobs, active: [1: "p", 99: "p"]).isEmpty)
        // Active jobs of another pipeline do not count against this one's limit.
        #expect(admission.admit(jobs, active: [99: "q", 98: "q"]) == [1, 2])
    }

    @Test("A limit of zero admits nothing of that pipeline, and other pipelines are unaffected")
    func zeroLimit() {
        let admission = Admission(concurrency: ["p": 0, "q": 1], draining: false)
        let jobs = [Self.job(1), Self.job(2, "q"), Self.job(3, "q"), Self.job(4, "r")]
        #expect(admission.admit(jobs, active: [:]) == [2, 4])
    }

    @Test("A job that waits for its identity stays queued while an earlier active job has the same pipeline and identity")
    func identityBlockedByActive() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [Self.job(1, identity: "x"), Self.job(2, identity: "x", waits: true), Self.job(3, identity: "y", waits: true)]
        #expect(admission.admit(jobs, active: [1: "p"]) == [3])
    }

    @Test("A later job already admitted (approved first) blocks an earlier one that waits for the same identity")
    func identityBlockedByLaterActive() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [
            Self.job(1, identity: "x", waits: true), Self.job(2, identity: "x", waits: true), Self.job(3, identity: "y", waits: true),
        ]
        #expect(admission.admit(jobs, active: [2: "p"]) == [3])
        #expect(admission.admit(jobs, active: [:]) == [1, 3], "without it, the earliest goes first as before")
    }

    @Test("An earlier job that was not admitted itself still blocks a later one with the same identity")
    func identityBlockedByUnadmitted() {
        // Job 1 is held back by the limit (job 9 is active); job 2 must not overtake it.
        let admission = Admission(concurrency: ["p": 1], draining: false)
        let jobs = [Self.job(1, identity: "x"), Self.job(2, identity: "x", waits: true)]
        #expect(admission.admit(jobs, active: [9: "p"]).isEmpty)
        // And without the limit the earlier one is admitted in this pass, the later one still waits.
        let open = Admission(concurrency: [:], draining: false)
        #expect(open.admit(jobs, active: [:]) == [1])
    }

    @Test("The identity rule applies only to jobs that wait for it, and only within one pipeline")
    func identityScope() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [
            Self.job(1, "p", identity: "x"), Self.job(2, "p", identity: "x"), Self.job(3, "q", identity: "x", waits: true),
            Self.job(4, "p", identity: "x", waits: true),
        ]
        #expect(admission.admit(jobs, active: [:]) == [1, 2, 3])
    }

    @Test("A later job with the same identity blocks an earlier one only once it is taken on")
    func identityLaterOnlyWhenActive() {
        let admission = Admission(concurrency: [:], draining: false)
        let jobs = [Self.job(1, identity: "x", waits: true), Self.job(2, identity: "x", waits: true)]
        #expect(admission.admit(jobs, active: [:]) == [1])
        #expect(admission.admit(jobs, active: [2: "p"]) == [], "never two waiting jobs of one identity at once")
        let allowed = [Self.job(1, identity: "x", waits: true), Self.job(2, identity: "x", waits: false)]
        #expect(admission.admit(allowed, active: [2: "p"]) == [1], "a later job that does not wait blocks nothing")
    }

    @Test("While draining nothing new is admitted, except jobs with a cancel request")
    func draining() {
        let admission = Admission(concurrency: [:], draining: true)
        let jobs = [Self.job(1), Self.job(2, cancel: true), Self.job(3, "q"), Self.job(4, "q", cancel: true)]
        #expect(admission.admit(jobs, active: [:]) == [2, 4])
        #expect(admission.admit(jobs, active: [2: "p"]) == [4])
    }

    @Test("A job with a cancel request bypasses the pipeline limit and the identity rule")
    func cancelBypassesLimits() {
        let admission = Admission(concurrency: ["p": 1], draining: false)
        let jobs = [Self.job(1, identity: "x"), Self.job(2, identity: "x", waits: true, cancel: true), Self.job(3, identity: "y")]
        #expect(admission.admit(jobs, active: [1: "p"]) == [2])
        #expect(Admission(concurrency: ["p": 0], draining: false).admit([Self.job(5, cancel: true)], active: [:]) == [5])
    }

    @Test("Order is preserved across pipelines, limits and cancel requests")
    func orderPreserved() {
        let admission = Admission(concurrency: ["p": 1, "q": 1], draining: false)
        let jobs = [
            Self.job(40, "q"), Self.job(10, "p"), Self.job(30, "p", cancel: true), Self.job(20, "q"), Self.job(50, "r"),
            Self.job(60, "p"),
        ]
        #expect(admission.admit(jobs, active: [:]) == [40, 10, 30, 50])
    }

    @Test("A limit configured for pipeline \"K\" does not apply to \"\\u{212A}\" (KELVIN SIGN), and the reverse")
    func limitNamesComparedAsBytes() {
        let kelvin = "\u{212A}"
        let jobs = [Self.job(1, kelvin), Self.job(2, kelvin), Self.job(3, "K"), Self.job(4, "K")]
        #expect(Admission(concurrency: ["K": 1], draining: false).admit(jobs, active: [:]) == [1, 2, 3])
        #expect(Admission(concurrency: [kelvin: 1], draining: false).admit(jobs, active: [:]) == [1, 3, 4])
        // Active jobs count only for the pipeline with their exact bytes.
        #expect(Admission(concurrency: ["K": 1], draining: false).admit(jobs, active: [9: kelvin]) == [1, 2, 3])
        #expect(Admission(concurrency: ["K": 1], draining: false).admit(jobs, active: [9: "K"]) == [1, 2])
        #expect(Admission(concurrency: [kelvin: 1], draining: false).admit(jobs, active: [9: "K"]) == [1, 3, 4])
        #expect(Admission(concurrency: [kelvin: 1], draining: false).admit(jobs, active: [9: kelvin]) == [3, 4])
    }

    @Test("Identities \"é\" precomposed and decomposed are different, and so are pipelines \"K\" and \"\\u{212A}\"")
    func identitiesComparedAsBytes() {
        let admission = Admission(concurrency: [:], draining: false)
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        let jobs = [
            Self.job(1, identity: precomposed), Self.job(2, identity: decomposed, waits: true),
            Self.job(3, identity: precomposed, waits: true),
        ]
        #expect(admission.admit(jobs, active: [:]) == [1, 2])
        let pipelines = [Self.job(1, "K", identity: "x"), Self.job(2, "\u{212A}", identity: "x", waits: true)]
        #expect(admission.admit(pipelines, active: [:]) == [1, 2])
    }

    @Test("A candidate built from a stored job carries its id, pipeline, identity and flags")
    func candidateFromRecord() {
        let record = JobRecord(
            id: 42, pipeline: "deploy", state: .queued, triggeredBy: "alice", identitySource: "test", params: [:], workingDirectory: "/",
            cancelRequested: true, createdAt: Date(timeIntervalSince1970: 0), startedAt: nil, finishedAt: nil, tasks: [],
            identity: "prod", waitsForIdentity: true)
        #expect(
            Candidate(record) == Candidate(id: 42, pipeline: "deploy", identity: "prod", waitsForIdentity: true, cancelRequested: true))
        var other = record
        other.cancelRequested = false
        other.waitsForIdentity = false
        #expect(
            Candidate(other) == Candidate(id: 42, pipeline: "deploy", identity: "prod", waitsForIdentity: false, cancelRequested: false))
    }
}
