import JobStore
import Testing
import Workflow

@Suite struct JobPlanTests {
    static func task(_ name: String, needs: [String] = [], state: TaskState = .queued) -> TaskRecord {
        TaskRecord(name: name, needs: needs, argv: ["/bin/true"], state: state)
    }

    static let diamond = [task("a"), task("b", needs: ["a"]), task("c", needs: ["a"]), task("d", needs: ["b", "c"])]

    @Test("In a diamond only the root is ready first, and the join only after both parents succeed")
    func diamondOrder() {
        var plan = JobPlan(tasks: Self.diamond)
        #expect(plan.names == ["a", "b", "c", "d"])
        #expect(plan.jobState == .queued)
        #expect(plan.hasReady)
        #expect(plan.startReady(limit: 10) == ["a"])
        #expect(plan.state(of: "a") == .running)
        #expect(plan.jobState == .running)
        #expect(!plan.hasReady)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.finish("a", as: .succeeded, exitCode: 0) == [TaskChange(task: "a", state: .succeeded, exitCode: 0)])
        #expect(plan.startReady(limit: 10) == ["b", "c"])
        #expect(plan.runningTasks == ["b", "c"])
        _ = plan.finish("c", as: .succeeded)
        #expect(!plan.hasReady)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.state(of: "d") == .queued)
        _ = plan.finish("b", as: .succeeded)
        #expect(plan.startReady(limit: 10) == ["d"])
        #expect(plan.jobState == .running)
        _ = plan.finish("d", as: .succeeded)
        #expect(plan.taskStates == [.succeeded, .succeeded, .succeeded, .succeeded])
        #expect(plan.jobState == .succeeded)
        #expect(plan.runningTasks.isEmpty)
    }

    @Test("startReady starts at most `limit` tasks, in definition order")
    func startLimit() {
        var plan = JobPlan(tasks: [Self.task("r1"), Self.task("r2"), Self.task("r3"), Self.task("after", needs: ["r1"])])
        #expect(plan.startReady(limit: 0).isEmpty)
        #expect(plan.startReady(limit: 2) == ["r1", "r2"])
        #expect(plan.hasReady)
        #expect(plan.startReady(limit: 2) == ["r3"])
        #expect(!plan.hasReady)
        _ = plan.finish("r1", as: .succeeded)
        #expect(plan.startReady(limit: 1) == ["after"])
    }

    @Test("A failure skips everything downstream, transitively, but not independent branches")
    func failureSkipsDownstream() {
        var plan = JobPlan(tasks: [
            Self.task("root"), Self.task("l1", needs: ["root"]), Self.task("l2", needs: ["l1"]), Self.task("l3", needs: ["l2"]),
            Self.task("r", needs: ["root"]), Self.task("alone"), Self.task("join", needs: ["l3", "r"]),
        ])
        #expect(plan.startReady(limit: 10) == ["root", "alone"])
        _ = plan.finish("root", as: .succeeded)
        #expect(plan.startReady(limit: 10) == ["l1", "r"])
        let changes = plan.finish("l1", as: .failed, exitCode: 2, message: "exited with status 2")
        #expect(changes.first == TaskChange(task: "l1", state: .failed, exitCode: 2, message: "exited with status 2"))
        #expect(Set(changes.dropFirst().map(\.task)) == ["l2", "l3", "join"])
        #expect(changes.dropFirst().allSatisfy { $0.state == .skipped })
        #expect(changes.first { $0.task == "l2" }?.message == "upstream task l1 failed")
        #expect(changes.first { $0.task == "l3" }?.message == "upstream task l2 skipped")
        #expect(plan.state(of: "r") == .running)
        #expect(plan.state(of: "alone") == .running)
        #expect(plan.jobState == .running)
        // The independent branches finish normally, and the skipped join never becomes ready.
        _ = plan.finish("r", as: .succeeded)
        #expect(plan.startReady(limit: 10).isEmpty)
        _ = plan.finish("alone", as: .succeeded)
        #expect(plan.jobState == .failed)
        #expect(plan.taskStates == [.succeeded, .failed, .skipped, .skipped, .succeeded, .succeeded, .skipped])
    }

    @Test("A failed parent skips the join at once even while the other parent still runs")
    func joinSkippedEarly() {
        var plan = JobPlan(tasks: Self.diamond)
        _ = plan.startReady(limit: 10)
        _ = plan.finish("a", as: .succeeded)
        _ = plan.startReady(limit: 10)
        let changes = plan.finish("b", as: .failed, exitCode: 1)
        #expect(changes.map(\.task) == ["b", "d"])
        #expect(plan.state(of: "d") == .skipped)
        #expect(plan.finish("c", as: .succeeded).map(\.task) == ["c"])
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.jobState == .failed)
    }

    @Test("Finishing an unknown or already finished task changes nothing")
    func finishIsIdempotent() {
        var plan = JobPlan(tasks: Self.diamond)
        _ = plan.startReady(limit: 1)
        #expect(plan.finish("ghost", as: .failed).isEmpty)
        #expect(plan.finish("a", as: .succeeded).count == 1)
        #expect(plan.finish("a", as: .failed).isEmpty)
        #expect(plan.state(of: "a") == .succeeded)
        #expect(plan.state(of: "ghost") == nil)
        // b and c were made ready once, not twice.
        #expect(plan.startReady(limit: 10) == ["b", "c"])
        #expect(plan.startReady(limit: 10).isEmpty)
    }

    @Test("cancelQueued cancels tasks not started and leaves running ones to finish")
    func cancelQueued() {
        var plan = JobPlan(tasks: Self.diamond + [Self.task("e")])
        #expect(plan.startReady(limit: 1) == ["a"])
        let changes = plan.cancelQueued()
        #expect(changes.map(\.task) == ["b", "c", "d", "e"])
        #expect(changes.allSatisfy { $0.state == .cancelled && $0.message == "job cancelled" })
        #expect(plan.runningTasks == ["a"])
        #expect(plan.jobState == .running)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.finish("a", as: .cancelled, exitCode: 143).map(\.task) == ["a"])
        #expect(plan.jobState == .cancelled)
        #expect(plan.cancelQueued().isEmpty)
    }

    @Test("A cancelled task cancels its downstream tasks")
    func cancelledDownstream() {
        var plan = JobPlan(tasks: Self.diamond)
        _ = plan.startReady(limit: 10)
        let changes = plan.finish("a", as: .cancelled)
        #expect(changes.map(\.state) == [.cancelled, .cancelled, .cancelled, .cancelled])
        #expect(changes.dropFirst().allSatisfy { $0.message == "job cancelled" })
        #expect(plan.jobState == .cancelled)
    }

    @Test("A plan resumed from stored records continues where the job stopped")
    func resume() {
        var plan = JobPlan(tasks: [
            Self.task("a", state: .succeeded), Self.task("b", needs: ["a"], state: .succeeded),
            Self.task("c", needs: ["a"], state: .running), Self.task("d", needs: ["b"]), Self.task("e", needs: ["c"]),
            Self.task("f", needs: ["b", "c"]),
        ])
        #expect(plan.jobState == .running)
        #expect(plan.runningTasks == ["c"])
        #expect(plan.startReady(limit: 10) == ["d"])
        _ = plan.finish("c", as: .succeeded)
        #expect(plan.startReady(limit: 10) == ["e", "f"])
        _ = plan.finish("d", as: .succeeded)
        _ = plan.finish("e", as: .succeeded)
        _ = plan.finish("f", as: .succeeded)
        #expect(plan.jobState == .succeeded)
    }

    @Test("A plan of finished records has nothing to do and keeps the job's final state")
    func resumeFinished() {
        var plan = JobPlan(tasks: [Self.task("a", state: .failed), Self.task("b", needs: ["a"], state: .skipped)])
        #expect(!plan.hasReady)
        #expect(plan.startReady(limit: 10).isEmpty)
        #expect(plan.jobState == .failed)
    }

    @Test("Needs naming no task are ignored rather than blocking forever")
    func unknownNeedIgnored() {
        var plan = JobPlan(tasks: [Self.task("a", needs: ["ghost"])])
        #expect(plan.startReady(limit: 1) == ["a"])
    }

    @Test("A layered plan of 10,000 tasks runs to completion in dependency order")
    func largePlan() {
        let width = 100
        var tasks: [TaskRecord] = []
        for layer in 0..<100 {
            for i in 0..<width {
                let needs = layer == 0 ? [] : ["L\(layer - 1)-\(i)", "L\(layer - 1)-\((i + 1) % width)"]
                tasks.append(Self.task("L\(layer)-\(i)", needs: needs))
            }
        }
        let needs = Dictionary(uniqueKeysWithValues: tasks.map { ($0.name, $0.needs) })
        var plan = JobPlan(tasks: tasks)
        var done = Set<String>()
        var started = 0
        var outOfOrder = 0
        while true {
            let batch = plan.startReady(limit: 37)
            if batch.isEmpty { break }
            for name in batch {
                started += 1
                if !(needs[name] ?? []).allSatisfy(done.contains) { outOfOrder += 1 }
                _ = plan.finish(name, as: .succeeded)
                done.insert(name)
            }
        }
        #expect(started == 10_000)
        #expect(outOfOrder == 0)
        #expect(plan.jobState == .succeeded)
        #expect(plan.taskStates.allSatisfy { $0 == .succeeded })
    }
}
