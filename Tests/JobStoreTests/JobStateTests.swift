import JobStore
import Testing

@Suite struct JobStateTests {
    @Test(
        "A job's state is derived from its tasks' states",
        arguments: [
            ([.queued], .queued),
            ([.queued, .queued, .queued], .queued),
            ([.running], .running),
            ([.queued, .running], .running),
            ([.queued, .succeeded], .running),
            ([.queued, .failed], .running),
            ([.queued, .skipped], .running),
            ([.queued, .cancelled], .running),
            ([.running, .cancelled], .running),
            ([.running, .failed], .running),
            ([.succeeded], .succeeded),
            ([.succeeded, .succeeded], .succeeded),
            ([.succeeded, .failed], .failed),
            ([.succeeded, .skipped], .failed),
            ([.failed, .skipped], .failed),
            ([.skipped], .failed),
            ([.cancelled], .cancelled),
            ([.succeeded, .cancelled], .cancelled),
            ([.failed, .cancelled], .cancelled),
            ([.skipped, .cancelled, .succeeded], .cancelled),
        ] as [([TaskState], JobState)])
    func derived(tasks: [TaskState], expected: JobState) {
        #expect(JobState.derived(from: tasks) == expected)
    }

    @Test("Every combination of two task states derives the documented job state")
    func allPairs() {
        for a in TaskState.allCases {
            for b in TaskState.allCases {
                let pair = [a, b]
                let expected: JobState
                if pair.contains(where: { !$0.isTerminal }) {
                    expected = pair.allSatisfy { $0 == .queued } ? .queued : .running
                } else if pair.contains(.cancelled) {
                    expected = .cancelled
                } else if pair.contains(.failed) || pair.contains(.skipped) {
                    expected = .failed
                } else {
                    expected = .succeeded
                }
                #expect(JobState.derived(from: pair) == expected, "tasks \(pair)")
                #expect(JobState.derived(from: [b, a]) == expected, "order must not matter: \(pair)")
            }
        }
    }

    @Test("Succeeded, failed, cancelled, rejected and expired jobs are terminal; awaiting approval is not")
    func jobTerminal() {
        #expect(JobState.allCases.filter(\.isTerminal) == [.succeeded, .failed, .cancelled, .rejected, .expired])
        #expect(JobState(rawValue: "awaiting_approval") == .awaitingApproval)
    }

    @Test("Only queued and running tasks are not terminal")
    func taskTerminal() {
        #expect(TaskState.allCases.filter { !$0.isTerminal } == [.queued, .running])
    }
}
