import Foundation
import JobStore
import Testing
import Workflow

@Suite(.serialized, .timeLimit(.minutes(1))) struct RunnerTests {
    @Test("A diamond of tasks succeeds and every task starts only after its needs finished")
    func diamond() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let step = sh("sleep 0.2")
        let job = try h.submit([("a", [], step), ("b", ["a"], step), ("c", ["a"], step), ("d", ["b", "c"], step)])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        for task in done.tasks {
            #expect(task.state == .succeeded, "\(task.name)")
            #expect(task.exitCode == 0 && task.attempt == 1 && task.pid != nil, "\(task.name)")
            #expect(task.message == nil, "\(task.name)")
        }
        let a = try #require(done.task("a")), b = try #require(done.task("b"))
        let c = try #require(done.task("c")), d = try #require(done.task("d"))
        func times(_ t: TaskRecord) throws -> (Date, Date) { (try #require(t.startedAt), try #require(t.finishedAt)) }
        let (aStart, aEnd) = try times(a), (bStart, bEnd) = try times(b)
        let (cStart, cEnd) = try times(c), (dStart, dEnd) = try times(d)
        #expect(aStart < aEnd)
        #expect(bStart >= aEnd && cStart >= aEnd)
        #expect(dStart >= bEnd && dStart >= cEnd)
        #expect(try #require(done.startedAt) <= aStart)
        #expect(try #require(done.finishedAt) >= dEnd)
    }

    @Test("A job created before start() is picked up without a wake-up")
    func jobBeforeStart() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let job = try h.createJob([("only", [], sh("exit 0"))])
        h.start()
        #expect(try h.finishedJob(job.id)?.state == .succeeded)
    }

    @Test("A failing task skips its downstream tasks, lets independent ones finish, and fails the job")
    func failingMiddle() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([
            ("a", [], sh("exit 0")), ("b", ["a"], sh("echo broken; exit 4")), ("c", ["b"], sh("exit 0")),
            ("d", ["c"], sh("exit 0")), ("side", [], sh("sleep 0.3")),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)
        #expect(done.task("a")?.state == .succeeded)
        #expect(done.task("b")?.state == .failed)
        #expect(done.task("b")?.exitCode == 4)
        #expect(done.task("b")?.message == "exited with status 4")
        #expect(h.log(done, "b") == "broken\n")
        for name in ["c", "d"] {
            #expect(done.task(name)?.state == .skipped, "\(name)")
            #expect(done.task(name)?.attempt == 0 && done.task(name)?.startedAt == nil, "\(name)")
        }
        #expect(done.task("c")?.message?.contains("b") == true)
        #expect(done.task("side")?.state == .succeeded)
    }

    @Test("Tasks get the configured environment, the job's variables and parameters, run in its directory and log to logPath")
    func environmentAndLog() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let value = "2024-01-01 'x' \"y\" $(id) ;"
        let job = try h.submit(
            [
                (
                    "show", [],
                    sh(
                        "printf '%s|' \"$SLUICE_JOB_ID\" \"$SLUICE_PIPELINE\" \"$SLUICE_TASK\" \"$SLUICE_PARAM_DATE\" \"${HOME-unset}\" \"$PATH\"; pwd"
                    )
                )
            ],
            params: ["date": value])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded)
        let real = URL(fileURLWithPath: h.workingDirectory).resolvingSymlinksInPath().path
        #expect(h.log(done, "show") == "\(job.id)|test|show|\(value)|unset|/usr/local/bin:/usr/bin:/bin|\(real)\n")
        #expect(Runner.logPath(logDirectory: "/l", jobID: 7, task: "t", attempt: 2) == "/l/7/t.2.log")
    }

    @Test("With parallelism 1 no two tasks ever run at the same time")
    func parallelismOne() throws {
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        let trace = h.dir.file("trace")
        let step = sh("echo \"start $1\" >> \"$2\"; sleep 0.1; echo \"end $1\" >> \"$2\"")
        // Two jobs of independent tasks, so both the per-job and the global limit are exercised.
        let first = try h.createJob((1...3).map { ("t\($0)", [], step + ["j1-t\($0)", trace]) })
        let second = try h.createJob((1...2).map { ("t\($0)", [], step + ["j2-t\($0)", trace]) })
        h.start()
        #expect(try h.finishedJob(first.id)?.state == .succeeded)
        #expect(try h.finishedJob(second.id)?.state == .succeeded)
        let lines = (try? String(contentsOfFile: trace, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        #expect(lines.count == 10)
        for pair in stride(from: 0, to: lines.count - 1, by: 2) {
            #expect(lines[pair].hasPrefix("start "))
            #expect(lines[pair + 1] == "end " + lines[pair].dropFirst(6), "\(lines)")
        }
        // The older job's tasks all ran before the newer job's.
        #expect(lines.prefix(6).allSatisfy { $0.hasSuffix("j1-t1") || $0.hasSuffix("j1-t2") || $0.hasSuffix("j1-t3") }, "\(lines)")
    }

    @Test("Independent tasks run concurrently up to the parallelism limit")
    func parallelismTwo() throws {
        let h = try RunnerHarness(parallelism: 2)
        defer { h.tearDown() }
        h.start()
        // Each task announces itself and then needs to see the other one: only concurrent runs succeed.
        let rendezvous = sh(
            "touch \"$1\"; i=0; while [ ! -e \"$2\" ]; do i=$((i+1)); [ $i -gt 250 ] && exit 1; sleep 0.02; done",
        )
        let job = try h.submit([
            ("x", [], rendezvous + [h.dir.file("x.here"), h.dir.file("y.here")]),
            ("y", [], rendezvous + [h.dir.file("y.here"), h.dir.file("x.here")]),
        ])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .succeeded, "\(done.tasks.map { ($0.name, $0.state, $0.exitCode) })")
    }

    @Test("A task whose program does not exist fails with exit code 127 and a message")
    func missingProgram() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("ghost", [], ["sluice-no-such-program", "--flag"]), ("after", ["ghost"], sh("exit 0"))])
        let done = try #require(try h.finishedJob(job.id))
        #expect(done.state == .failed)
        let ghost = try #require(done.task("ghost"))
        #expect(ghost.state == .failed)
        #expect(ghost.exitCode == 127)
        #expect(ghost.message?.contains("sluice-no-such-program") == true)
        #expect(h.log(done, "ghost").contains("sluice-no-such-program"))
        #expect(done.task("after")?.state == .skipped)
    }

    @Test("A task that cannot start does not stall the other ready tasks of its job")
    func spawnFailureDoesNotStall() throws {
        let h = try RunnerHarness(parallelism: 1)
        defer { h.tearDown() }
        h.start()
        let job = try h.submit([("ghost", [], ["sluice-no-such-program"]), ("fine", [], sh("exit 0"))])
        let finished = try h.finishedJob(job.id, within: .seconds(10))
        let stored = try h.store.job(id: job.id)
        let done = try #require(
            finished, "job stalled: \(stored.map { "\($0.state) \($0.tasks.map { "\($0.name)=\($0.state)" })" } ?? "gone")")
        #expect(done.state == .failed)
        #expect(done.task("ghost")?.exitCode == 127)
        #expect(done.task("fine")?.state == .succeeded)
    }
}
