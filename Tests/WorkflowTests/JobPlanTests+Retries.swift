import Foundation
import JobStore
import TestSupport
import Testing
import Workflow

extension JobPlanTests {
    static let due = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("queueRetry puts a running task back to queued, not ready, with its downstream untouched, until makeReady")
    func queueRetryThenMakeReady() {
        var plan = JobPlan(tasks: [Self.task("a"), Self.task("b", needs: ["a"]), Self.task("side")])
        #expect(plan.startReady(limit: 10) == ["a", "side"])
        _ = plan.finish("side", as: .succeeded)
        let change = plan.queueRetry(0, exitCode: 3, message: "exited with status 3; attempt 2 of 3 in 1.0 s", retryAt: Self.due)
        #expect(
            change
                == TaskChange(
                    task: "a", state: .queued, exitCode: 3, message: "exited with status 3; attempt 2 of 3 in 1.0 s", retryAt: Self.due))
        #expect(plan.state(of: "a") == .queued)
        #expect(plan.state(of: "b") == .queued)
        #expect(plan.runningTasks.isEmpty)
        #expect(!plan.hasReady)
        #expect(plan.nextReady() == nil)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.jobState == .running, "a job waiting only for a retry has started: it reads running, not queued")
        plan.makeReady(0)
        #expect(plan.hasReady)
        #expect(plan.startReady(limit: 10) == ["a"])
        // A second failure, a second wait.
        _ = plan.queueRetry(0, exitCode: 3, message: "again", retryAt: Self.due)
        #expect(plan.startReady(limit: 10).isEmpty)
        plan.makeReady(0)
        #expect(plan.startReady(limit: 10) == ["a"])
        #expect(plan.finish("a", as: .succeeded) == [TaskChange(task: "a", state: .succeeded)])
        #expect(plan.startReady(limit: 10) == ["b"])
        _ = plan.finish("b", as: .succeeded)
        #expect(plan.jobState == .succeeded)
    }

    @Test("The final failure after retries skips the downstream tasks")
    func finalFailureSkips() {
        var plan = JobPlan(tasks: [Self.task("a"), Self.task("b", needs: ["a"]), Self.task("c", needs: ["b"])])
        _ = plan.startReady(limit: 1)
        _ = plan.queueRetry(0, exitCode: 1, message: "retry", retryAt: Self.due)
        plan.makeReady(0)
        #expect(plan.startReady(limit: 1) == ["a"])
        let changes = plan.finish(0, as: .failed, exitCode: 1, message: "exited with status 1")
        #expect(changes.map(\.task) == ["a", "b", "c"])
        #expect(changes.map(\.state) == [.failed, .skipped, .skipped])
        #expect(plan.jobState == .failed)
    }

    @Test("Stored tasks waiting for a retry are not ready when the plan is built; the caller makes them ready")
    func retryAtNotReadyAtInit() {
        let waiting = TaskRecord(name: "a", needs: [], argv: ["/bin/true"], state: .queued, attempt: 1, retryAt: Self.due)
        var plan = JobPlan(tasks: [waiting, Self.task("b"), Self.task("c", needs: ["a"])])
        #expect(plan.startReady(limit: 10) == ["b"])
        #expect(plan.state(of: "a") == .queued)
        #expect(!plan.hasReady)
        plan.makeReady(0)
        #expect(plan.startReady(limit: 10) == ["a"])
        _ = plan.finish("a", as: .succeeded)
        #expect(plan.startReady(limit: 10) == ["c"])
    }

    @Test("makeReady ignores tasks that are running, finished or still waiting for needs, and never starts a task twice")
    func makeReadyIsGuarded() {
        var plan = JobPlan(tasks: [
            Self.task("run"), Self.task("done"), Self.task("blocked", needs: ["run"]), Self.task("twice"),
        ])
        #expect(plan.startReady(limit: 2) == ["run", "done"])
        _ = plan.finish("done", as: .succeeded)
        plan.makeReady(0)
        plan.makeReady(1)
        plan.makeReady(2)
        // "twice" is ready once already; making it ready again must not start it twice.
        plan.makeReady(3)
        plan.makeReady(3)
        #expect(plan.startReady(limit: 10) == ["twice"])
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.state(of: "run") == .running && plan.state(of: "done") == .succeeded && plan.state(of: "blocked") == .queued)
    }

    @Test("A ready task taken off the queue without starting (waiting for a resource) comes back with makeReady")
    func takeReadyThenMakeReady() {
        var plan = JobPlan(tasks: [Self.task("a"), Self.task("b")])
        #expect(plan.nextReady() == 0)
        plan.takeReady()
        #expect(plan.nextReady() == 1)
        plan.takeReady()
        #expect(plan.nextReady() == nil)
        #expect(!plan.hasReady)
        #expect(plan.taskStates == [.queued, .queued])
        plan.makeReady(1)
        plan.makeReady(0)
        #expect(plan.startReady(limit: 10) == ["b", "a"])
    }

    @Test("failQueued fails every task not started, those waiting for a retry included, and leaves running ones")
    func failQueued() {
        var plan = JobPlan(tasks: Self.diamond + [Self.task("e")])
        #expect(plan.startReady(limit: 10) == ["a", "e"])
        _ = plan.queueRetry(4, exitCode: 1, message: "retry", retryAt: Self.due)
        let changes = plan.failQueued(message: "interrupted: secret parameters")
        #expect(changes.map(\.task) == ["b", "c", "d", "e"])
        #expect(changes.allSatisfy { $0.state == .failed && $0.message == "interrupted: secret parameters" && $0.exitCode == nil })
        #expect(plan.runningTasks == ["a"])
        #expect(plan.jobState == .running)
        plan.makeReady(4)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.finish("a", as: .succeeded).map(\.task) == ["a"])
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.jobState == .failed)
        #expect(plan.failQueued(message: "again").isEmpty)
    }

    @Test("cancelQueued cancels a task waiting for its retry, and a later makeReady does not revive it")
    func cancelWhileWaiting() {
        var plan = JobPlan(tasks: [Self.task("a"), Self.task("b", needs: ["a"])])
        _ = plan.startReady(limit: 10)
        _ = plan.queueRetry(0, exitCode: 1, message: "retry", retryAt: Self.due)
        #expect(plan.cancelQueued().map(\.task) == ["a", "b"])
        plan.makeReady(0)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.jobState == .cancelled)
    }

    // MARK: - Property test

    /// Random DAGs, possibly resumed part-way, driven by random runner-like operations. After every
    /// operation the counts-based job state must equal the state derived from all task states,
    /// the returned changes must describe exactly what changed, nothing may start before its
    /// needs succeeded, and in the end every task must have finished.
    @Test("Random operations on random DAGs keep the counted job state equal to the derived one")
    func randomOperations() {
        var failures: [String] = []
        for seed in UInt64(1)...300 {
            Self.exercise(seed: seed, failures: &failures)
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }

    private static func exercise(seed: UInt64, failures: inout [String]) {
        var rng = SplitMix64(seed: seed)
        let count = Int.random(in: 1...24, using: &rng)
        var needs: [[Int]] = []
        for i in 0..<count {
            var own = Set<Int>()
            if i > 0 {
                for _ in 0..<Int.random(in: 0...3, using: &rng) { own.insert(Int.random(in: 0..<i, using: &rng)) }
            }
            needs.append(own.sorted())
        }
        // Initial states, consistent with the needs, as a resumed job could have them.
        let resumed = Bool.random(using: &rng)
        var initial: [TaskState] = []
        var retrying = Set<Int>()
        for i in 0..<count {
            let upstream = needs[i].map { initial[$0] }
            var state = TaskState.queued
            if resumed {
                if upstream.allSatisfy({ $0 == .succeeded }) {
                    state = [.queued, .queued, .running, .succeeded, .succeeded, .failed].randomElement(using: &rng)!
                    if state == .queued && Bool.random(using: &rng) { retrying.insert(i) }
                } else if upstream.contains(where: { $0 == .failed || $0 == .skipped }) {
                    state = .skipped
                } else if upstream.contains(.cancelled) {
                    state = .cancelled
                }
            }
            initial.append(state)
        }
        let names = (0..<count).map { "t\($0)" }
        let ghost = Int.random(in: 0..<count, using: &rng)
        let records = (0..<count).map { i in
            TaskRecord(
                name: names[i], needs: needs[i].map { names[$0] } + (i == ghost ? ["ghost"] : []), argv: [], state: initial[i],
                attempt: initial[i] == .queued && !retrying.contains(i) ? 0 : 1, retryAt: retrying.contains(i) ? Self.due : nil)
        }
        var plan = JobPlan(tasks: records)
        var taken = Set<Int>()
        var startedHere = Set<Int>()
        let label = "seed \(seed)"

        func fail(_ message: String) { failures.append("\(label): \(message)") }

        func checkReady(_ i: Int) {
            if plan.state(at: i) != .queued { fail("nextReady gave \(names[i]) in state \(plan.state(at: i))") }
            if retrying.contains(i) { fail("nextReady gave \(names[i]) while it waits for a retry") }
            if taken.contains(i) { fail("nextReady gave \(names[i]) while it was taken") }
            for need in needs[i] where plan.state(at: need) != .succeeded {
                fail("nextReady gave \(names[i]) although its need \(names[need]) is \(plan.state(at: need))")
            }
        }

        func checkInvariants(before: [TaskState], changes: [TaskChange]?, operation: String) {
            let after = plan.taskStates
            // A job some of whose tasks ever ran reads `running` while its unfinished tasks all wait.
            let everStarted =
                records.contains { $0.attempt > 0 || $0.state != .queued } || !startedHere.isEmpty
                || after.contains { $0 != .queued }
            var expected = JobState.derived(from: after)
            if expected == .queued && everStarted { expected = .running }
            if plan.jobState != expected {
                fail("after \(operation): counted \(plan.jobState) but expected \(expected) from \(after)")
            }
            var copy = plan
            if plan.hasReady != (copy.nextReady() != nil) { fail("after \(operation): hasReady disagrees with nextReady") }
            if plan.runningTasks != names.indices.filter({ after[$0] == .running }).map({ names[$0] }) {
                fail("after \(operation): runningTasks disagrees with task states")
            }
            if let changes {
                let changed = Set(names.indices.filter { before[$0] != after[$0] }.map { names[$0] })
                if Set(changes.map(\.task)) != changed || changes.count != changed.count {
                    fail("after \(operation): changes \(changes.map { "\($0.task)=\($0.state)" }) but changed \(changed.sorted())")
                }
                for change in changes where plan.state(of: change.task) != change.state {
                    fail("after \(operation): change says \(change.task)=\(change.state) but it is \(plan.state(of: change.task)!)")
                }
            }
            for i in startedHere where after[i] == .running || after[i] == .succeeded {
                for need in needs[i] where after[need] != .succeeded {
                    fail("after \(operation): \(names[i]) is \(after[i]) although \(names[need]) is \(after[need])")
                }
            }
            for i in names.indices where after[i] == .queued {
                for need in needs[i] where after[need] == .failed || after[need] == .skipped || after[need] == .cancelled {
                    fail("after \(operation): \(names[i]) still queued although \(names[need]) is \(after[need])")
                }
            }
        }

        checkInvariants(before: plan.taskStates, changes: nil, operation: "init")
        for _ in 0..<Int.random(in: 0...60, using: &rng) {
            let before = plan.taskStates
            let running = names.indices.filter { before[$0] == .running }
            var changes: [TaskChange]? = nil
            var operation = ""
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<25:
                operation = "start"
                if let i = plan.nextReady() {
                    checkReady(i)
                    plan.takeReady()
                    plan.markRunning(i)
                    startedHere.insert(i)
                    changes = [TaskChange(task: names[i], state: .running)]
                } else {
                    changes = []
                }
            case 25..<45:
                guard let i = running.randomElement(using: &rng) else { continue }
                let state = [TaskState.succeeded, .succeeded, .succeeded, .failed, .cancelled].randomElement(using: &rng)!
                operation = "finish \(names[i]) as \(state)"
                changes = plan.finish(i, as: state, exitCode: 0)
            case 45..<57:
                guard let i = running.randomElement(using: &rng) else { continue }
                operation = "queueRetry \(names[i])"
                changes = [plan.queueRetry(i, exitCode: 1, message: "retry", retryAt: Self.due)]
                retrying.insert(i)
            case 57..<67:
                guard let i = retrying.randomElement(using: &rng) else { continue }
                operation = "retry timer of \(names[i])"
                retrying.remove(i)
                plan.makeReady(i)
                changes = []
            case 67..<75:
                operation = "take (resource busy)"
                if let i = plan.nextReady() {
                    checkReady(i)
                    plan.takeReady()
                    taken.insert(i)
                }
                changes = []
            case 75..<82:
                operation = "release resources"
                for i in taken { plan.makeReady(i) }
                taken.removeAll()
                changes = []
            case 82..<90:
                operation = "noop completes"
                if let i = plan.nextReady() {
                    checkReady(i)
                    plan.takeReady()
                    changes = plan.finish(i, as: .succeeded)
                    startedHere.insert(i)
                } else {
                    changes = []
                }
            case 90..<95:
                // On a task that must stay where it is: not queued, or still waiting for a need.
                // (Making a ready task ready again is covered by makeReadyIsGuarded.)
                let i = Int.random(in: 0..<count, using: &rng)
                guard before[i] != .queued || needs[i].contains(where: { before[$0] != .succeeded }) else { continue }
                operation = "spurious makeReady \(names[i])"
                plan.makeReady(i)
                changes = []
            case 95..<97:
                operation = "finish a finished task again"
                guard let i = names.indices.filter({ before[$0].isTerminal }).randomElement(using: &rng) else { continue }
                changes = plan.finish(i, as: .failed)
            case 97..<99:
                guard Int.random(in: 0..<4, using: &rng) == 0 else { continue }
                operation = "cancelQueued"
                changes = plan.cancelQueued()
                retrying.removeAll()
                taken.removeAll()
            default:
                guard Int.random(in: 0..<2, using: &rng) == 0 else { continue }
                operation = "failQueued"
                changes = plan.failQueued(message: "cannot run")
                retrying.removeAll()
                taken.removeAll()
            }
            checkInvariants(before: before, changes: changes, operation: operation)
        }

        // Drain: every timer fires, every resource frees, every task succeeds; nothing may be left over.
        var rounds = 0
        while rounds < 10 * count + 10 {
            rounds += 1
            for i in taken { plan.makeReady(i) }
            taken.removeAll()
            for i in retrying { plan.makeReady(i) }
            retrying.removeAll()
            var progressed = false
            while let i = plan.nextReady() {
                checkReady(i)
                plan.takeReady()
                plan.markRunning(i)
                startedHere.insert(i)
                progressed = true
            }
            for i in names.indices where plan.state(at: i) == .running {
                let before = plan.taskStates
                let changes = plan.finish(i, as: .succeeded)
                checkInvariants(before: before, changes: changes, operation: "drain finish \(names[i])")
                progressed = true
            }
            if !progressed { break }
        }
        let final = plan.taskStates
        if let stuck = names.indices.first(where: { !final[$0].isTerminal }) {
            fail("\(names[stuck]) left \(final[stuck]) after draining (needs \(needs[stuck].map { "\(names[$0])=\(final[$0])" }))")
        }
        if !plan.jobState.isTerminal || plan.jobState != JobState.derived(from: final) {
            fail("final job state \(plan.jobState), derived \(JobState.derived(from: final))")
        }
    }
}
