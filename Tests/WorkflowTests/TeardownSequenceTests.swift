import Testing

@testable import Workflow

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct TeardownSequenceTests {
    @Test("The graceful sequence is SIGTERM, a wait of the grace period, then SIGKILL")
    func gracefulSteps() {
        let sequence = TeardownSequence.graceful(gracePeriod: 2.5)
        #expect(sequence.steps == [.signal(SIGTERM), .wait(2.5), .signal(SIGKILL)])
        #expect(sequence.steps.first == .signal(15))
        #expect(sequence.steps.last == .signal(9))
    }

    @Test("The grace period is the sum of every wait in the sequence")
    func gracePeriodSums() {
        #expect(TeardownSequence.graceful(gracePeriod: 3).gracePeriod == 3)
        let custom = TeardownSequence(steps: [.signal(SIGINT), .wait(1.5), .signal(SIGTERM), .wait(0.25), .signal(SIGKILL)])
        #expect(custom.gracePeriod == 1.75)
        #expect(TeardownSequence(steps: [.signal(SIGKILL)]).gracePeriod == 0)
        #expect(TeardownSequence(steps: []).gracePeriod == 0)
    }

    @Test("A negative grace period is clamped to zero")
    func negativeGraceClamped() {
        let sequence = TeardownSequence.graceful(gracePeriod: -4)
        #expect(sequence.steps == [.signal(SIGTERM), .wait(0), .signal(SIGKILL)])
        #expect(sequence.gracePeriod == 0)
        #expect(sequence.supervisorPatience == 5)
    }

    @Test("A zero grace period is kept as zero, not replaced by a default")
    func zeroGrace() {
        #expect(TeardownSequence.graceful(gracePeriod: 0).steps == [.signal(SIGTERM), .wait(0), .signal(SIGKILL)])
    }

    @Test("The supervisor's patience is the grace period plus one second of draining plus a four-second margin")
    func supervisorPatience() {
        #expect(TeardownSequence.graceful(gracePeriod: 10).supervisorPatience == 15)
        #expect(TeardownSequence.graceful(gracePeriod: 0.5).supervisorPatience == 5.5)
        #expect(TeardownSequence(steps: [.wait(2), .wait(3)]).supervisorPatience == 10)
    }

    @Test("Sequences differing in a signal or a wait are not equal")
    func equality() {
        #expect(TeardownSequence.graceful(gracePeriod: 1) == TeardownSequence(steps: [.signal(SIGTERM), .wait(1), .signal(SIGKILL)]))
        #expect(TeardownSequence.graceful(gracePeriod: 1) != TeardownSequence.graceful(gracePeriod: 2))
        #expect(TeardownSequence.graceful(gracePeriod: 1) != TeardownSequence(steps: [.signal(SIGINT), .wait(1), .signal(SIGKILL)]))
    }
}
