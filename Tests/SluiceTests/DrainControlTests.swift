import Foundation
import Locking
import TestSupport
import Testing
import Workflow

@testable import Sluice

/// A runner stand-in whose activity the test sets: what a drain sees of the runner.
final class FakeRunner: DrainableRunner {
    private let state = Locked(Runner.Activity())
    /// Runs whenever `drain(_:)` is called (with the new flag), after the flag is set.
    let onDrain = Locked<(@Sendable (Bool) -> Void)?>(nil)

    var activity: Runner.Activity { self.state.withLock { $0 } }

    func drain(_ draining: Bool) {
        self.state.withLock { $0.draining = draining }
        if let hook = self.onDrain.withLock({ $0 }) { hook(draining) }
    }

    func waitUntilDrained(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.activity.isDrained { return true }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return self.activity.isDrained
    }

    /// Sets what runs.
    func set(activeJobs: Int, runningTasks: Int) {
        self.state.withLock {
            $0.activeJobs = activeJobs
            $0.runningTasks = runningTasks
        }
    }
}

/// Counts `onDrained` calls.
final class ExitRecorder: Sendable {
    private let count = Locked(0)
    var calls: Int { self.count.withLock { $0 } }
    func record() { self.count.withLock { $0 += 1 } }

    /// Waits up to `timeout` for at least one call.
    func waitForCall(within timeout: Duration = .seconds(5)) async -> Bool {
        await Poll.until(within: timeout) { self.calls > 0 }
    }
}

@Suite struct DrainControlTests {
    static func make(settle: Duration = .milliseconds(50)) -> (FakeRunner, ExitRecorder, DrainControl) {
        let runner = FakeRunner()
        let exits = ExitRecorder()
        let control = DrainControl(drainable: runner, settle: settle, onDrained: { exits.record() })
        return (runner, exits, control)
    }

    @Test("Draining sets the runner's flag, is idempotent, and resume clears it")
    func drainAndResume() throws {
        let (runner, exits, control) = Self.make()
        runner.set(activeJobs: 2, runningTasks: 3)
        #expect(control.status == .init(draining: false, activeJobs: 2, runningTasks: 3, exitWhenDrained: false, exiting: false))
        let first = try control.drain(exitWhenDrained: nil, by: "test")
        let second = try control.drain(exitWhenDrained: nil, by: "test")
        #expect(first == second)
        #expect(first.draining && !first.exitWhenDrained && first.activeJobs == 2)
        #expect(runner.activity.draining)
        let resumed = try control.resume(by: "test")
        #expect(!resumed.draining && !runner.activity.draining)
        #expect(exits.calls == 0)
    }

    @Test("With an exit planned, onDrained runs once, only after nothing is active any more")
    func exitOnceDrained() async throws {
        let (runner, exits, control) = Self.make()
        runner.set(activeJobs: 1, runningTasks: 1)
        #expect(try control.drain(exitWhenDrained: true, by: "test").exitWhenDrained)
        try await Task.sleep(for: .milliseconds(400))
        #expect(exits.calls == 0, "exited while a job was still running")
        runner.set(activeJobs: 1, runningTasks: 0)  // between tasks: the job still counts
        try await Task.sleep(for: .milliseconds(300))
        #expect(exits.calls == 0)
        runner.set(activeJobs: 0, runningTasks: 0)
        #expect(await exits.waitForCall())
        #expect(control.isExiting && control.status.exiting)
        try await Task.sleep(for: .milliseconds(200))
        #expect(exits.calls == 1)
        // Stopping now: no resume, no cancelled exit; a plain drain changes nothing.
        #expect(throws: DrainRefusal.self) { try control.resume(by: "test") }
        #expect(throws: DrainRefusal.self) { try control.drain(exitWhenDrained: false, by: "test") }
        #expect(try control.drain(exitWhenDrained: nil, by: "test").exitWhenDrained)
        #expect(runner.activity.draining)
    }

    @Test("Resuming cancels a planned exit: drained later, nothing exits")
    func resumeCancelsExit() async throws {
        let (runner, exits, control) = Self.make()
        runner.set(activeJobs: 1, runningTasks: 1)
        try control.drain(exitWhenDrained: true, by: "test")
        let resumed = try control.resume(by: "test")
        #expect(!resumed.draining && !resumed.exitWhenDrained)
        runner.set(activeJobs: 0, runningTasks: 0)
        try await Task.sleep(for: .milliseconds(500))
        #expect(exits.calls == 0)
        // Planned again: a new watcher exits.
        try control.drain(exitWhenDrained: true, by: "test")
        #expect(await exits.waitForCall())
    }

    @Test("A plain drain keeps a planned exit; exit_when_drained false cancels it but keeps draining")
    func planKeptOrCancelled() async throws {
        let (runner, exits, control) = Self.make()
        runner.set(activeJobs: 1, runningTasks: 1)
        try control.drain(exitWhenDrained: true, by: "a")
        #expect(try control.drain(exitWhenDrained: nil, by: "b").exitWhenDrained)
        let cancelled = try control.drain(exitWhenDrained: false, by: "c")
        #expect(cancelled.draining && !cancelled.exitWhenDrained)
        runner.set(activeJobs: 0, runningTasks: 0)
        try await Task.sleep(for: .milliseconds(500))
        #expect(exits.calls == 0)
        #expect(runner.activity.draining)
    }

    @Test("Counts published before the drain took effect do not end it: drained must still hold after the runner's next pass")
    func staleCountsSettle() async throws {
        let (runner, exits, control) = Self.make(settle: .milliseconds(300))
        // The runner admitted a job in the pass that was running when draining began; its counts
        // (nothing active) were published before that, and the fresh ones follow 50 ms later.
        runner.onDrain.withLock {
            $0 = { draining in
                guard draining else { return }
                Thread {
                    Thread.sleep(forTimeInterval: 0.05); runner.set(activeJobs: 1, runningTasks: 1)
                }.start()
            }
        }
        try control.drain(exitWhenDrained: true, by: "test")
        try await Task.sleep(for: .milliseconds(800))
        #expect(exits.calls == 0, "exited on counts that predate the drain")
        runner.set(activeJobs: 0, runningTasks: 0)
        #expect(await exits.waitForCall())
    }

    @Test("Drains, resumes and exits racing from 8 threads call onDrained at most once")
    func racing() async throws {
        let (runner, exits, control) = Self.make(settle: .milliseconds(5))
        runner.set(activeJobs: 0, runningTasks: 0)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<200 {
                        switch (worker + i) % 3 {
                        case 0: _ = try? control.drain(exitWhenDrained: true, by: "t")
                        case 1: _ = try? control.resume(by: "t")
                        default: _ = try? control.drain(exitWhenDrained: nil, by: "t")
                        }
                    }
                }
            }
        }
        _ = try? control.drain(exitWhenDrained: true, by: "t")
        #expect(await exits.waitForCall())
        try await Task.sleep(for: .milliseconds(200))
        #expect(exits.calls == 1)
    }
}
