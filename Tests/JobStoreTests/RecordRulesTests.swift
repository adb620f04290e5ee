import Foundation
import JobStore
import Testing

/// `RecordRules`, `JobRetry` and the query limits: the rest of what every store applies alike.
@Suite struct RecordRulesTests {
    private let now = Date(timeIntervalSince1970: 1_700_000_100)
    private let earlier = Date(timeIntervalSince1970: 1_700_000_050)

    @Test("A task's stored finish time: its own if given, else now; none while running, none when queued without a retry time")
    func taskFinishedAt() {
        for state in TaskState.allCases {
            let plain = RecordRules.taskFinishedAt(TaskChange(task: "t", state: state), now: self.now)
            let own = RecordRules.taskFinishedAt(TaskChange(task: "t", state: state, finishedAt: self.earlier), now: self.now)
            switch state {
            case .running, .queued:
                #expect(plain == nil && own == nil, "\(state)")
            case .succeeded, .failed, .skipped, .cancelled:
                #expect(plain == self.now && own == self.earlier, "\(state)")
            }
        }
        let due = self.now.addingTimeInterval(10)
        #expect(RecordRules.taskFinishedAt(TaskChange(task: "t", state: .queued, retryAt: due), now: self.now) == self.now)
        #expect(
            RecordRules.taskFinishedAt(TaskChange(task: "t", state: .queued, retryAt: due, finishedAt: self.earlier), now: self.now)
                == self.earlier)
        #expect(RecordRules.taskFinishedAt(TaskChange(task: "t", state: .running, retryAt: due), now: self.now) == nil)
    }

    @Test("A job starts at the first state that is not queued, and finishes only in a terminal state", arguments: JobState.allCases)
    func jobTimes(state: JobState) {
        #expect(RecordRules.jobStartedAt(state, now: self.now) == (state == .queued ? nil : self.now))
        #expect(RecordRules.jobFinishedAt(state, now: self.now) == (state.isTerminal ? self.now : nil))
    }

    @Test("Only failed and cancelled jobs may be retried; failed, skipped and cancelled tasks go back to the queue")
    func retryRules() {
        #expect(JobState.allCases.filter(JobRetry.isAllowed(from:)) == [.failed, .cancelled])
        #expect(JobRetry.requeuedTaskStates == [.failed, .skipped, .cancelled])
        #expect(JobRetry.message == "retry requested")
    }

    @Test("A retried job is running if a task had succeeded, else queued: the state its tasks derive")
    func retriedJobState() {
        #expect(JobRetry.jobState(anyTaskSucceeded: true) == .running)
        #expect(JobRetry.jobState(anyTaskSucceeded: false) == .queued)
        // The same as deriving it from the tasks after the retry, for every mix of finished tasks.
        let finished = TaskState.allCases.filter(\.isTerminal)
        for a in finished {
            for b in finished where a != .succeeded || b != .succeeded {
                let after = [a, b].map { JobRetry.requeuedTaskStates.contains($0) ? TaskState.queued : $0 }
                #expect(JobRetry.jobState(anyTaskSucceeded: [a, b].contains(.succeeded)) == JobState.derived(from: after), "\([a, b])")
            }
        }
    }

    @Test("Query limits are clamped to 0...maximum")
    func limits() {
        #expect(JobQuery(limit: -3).clampedLimit == 0)
        #expect(JobQuery(limit: 20).clampedLimit == 20)
        #expect(JobQuery(limit: 5000).clampedLimit == JobQuery.maxLimit)
        #expect(JobQuery.maxLimit == 1000)
        #expect(AuditQuery(limit: -1).clampedLimit == 0)
        #expect(AuditQuery(limit: 100).clampedLimit == 100)
        #expect(AuditQuery(limit: 50_000).clampedLimit == AuditQuery.maxLimit)
        #expect(AuditQuery.maxLimit == 10_000)
    }

    @Test("An empty set of pipelines, ids or states matches nothing; an audit query without pipelines or unscoped records likewise")
    func matchesNothing() {
        #expect(!JobQuery().matchesNothing)
        #expect(JobQuery(pipelines: []).matchesNothing)
        #expect(JobQuery(ids: []).matchesNothing)
        var states = JobQuery()
        states.states = []
        #expect(states.matchesNothing)
        states.states = [.queued]
        #expect(!states.matchesNothing)
        #expect(!AuditQuery().matchesNothing)
        #expect(!AuditQuery(pipelines: [], includeUnscoped: true).matchesNothing)
        #expect(AuditQuery(pipelines: [], includeUnscoped: false).matchesNothing)
        #expect(!AuditQuery(pipelines: ["a"], includeUnscoped: false).matchesNothing)
    }
}
