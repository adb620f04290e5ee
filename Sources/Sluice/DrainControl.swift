import Foundation
import Locking
import Logging
import SystemCalls
public import Workflow

/// What a drain needs from the job runner: `Runner` itself, or a stand-in in tests.
protocol DrainableRunner: AnyObject, Sendable {
    /// The runner's latest published activity.
    var activity: Runner.Activity { get }
    /// Starts or ends draining: no new job is admitted while it is on.
    func drain(_ draining: Bool)
    /// Blocks until draining with nothing active, or `timeout`; whether that holds.
    func waitUntilDrained(timeout: Duration) -> Bool
}

extension Runner: DrainableRunner {}

/// Drain, for host maintenance: while draining no new job starts (triggers are still accepted
/// and wait in the queue), jobs already running go on to their end; optionally Sluice exits
/// once nothing runs any more, and the queued jobs start on its next start.
///
/// Started by `POST /api/v1/admin/drain`, SIGUSR1 (`sluice drain`) or SIGUSR2
/// (`sluice drain --exit`); ended by `DELETE /api/v1/admin/drain` or a restart (the runner does
/// not store it). Every change is logged here; the caller writes the audit record.
///
/// The exit is a planned stop: once the runner reports drained, a watcher thread marks this
/// control as exiting and calls `onDrained` once (the server sends itself SIGTERM, so the stop
/// is the ordinary graceful one). From then on the drain cannot be ended or the exit cancelled.
///
/// ```swift
/// let drain = DrainControl(runner: runner, onDrained: { kill(getpid(), SIGTERM) })
/// try drain.drain(exitWhenDrained: true, by: "alice")
/// ```
public final class DrainControl: Sendable {
    /// What `GET /api/v1/admin/drain`, `/healthz` and the dashboard show.
    public struct Status: Sendable, Equatable {
        /// Whether no new job starts.
        public var draining: Bool
        /// Jobs admitted and not finished.
        public var activeJobs: Int
        /// Task attempts running.
        public var runningTasks: Int
        /// Whether Sluice exits once drained.
        public var exitWhenDrained: Bool
        /// Drained with an exit planned: Sluice is stopping.
        public var exiting: Bool
    }

    private struct State {
        var exitWhenDrained = false
        /// Whether a watcher thread runs (at most one).
        var watching = false
        /// Drained and `onDrained` called (or about to be).
        var exiting = false
    }

    private let runner: any DrainableRunner
    private let state = Locked(State())
    private let onDrained: @Sendable () -> Void
    /// How long "drained" must still hold after it was first seen before the exit. The real
    /// runner's `isDrained` already only holds for counts from a pass that saw the drain
    /// (`Runner.Activity.countsSeeDraining`); this second look also covers stand-ins and a job
    /// triggered at that very moment.
    private let settle: Duration
    private let logger = Logger(label: "drain")

    /// Creates the control for `runner`; `onDrained` is called once, on a background thread,
    /// when an exit was planned and nothing runs any more.
    public convenience init(runner: Runner, onDrained: @escaping @Sendable () -> Void) {
        self.init(drainable: runner, onDrained: onDrained)
    }

    /// Creates the control over any drainable runner (tests use a stand-in).
    init(drainable runner: any DrainableRunner, settle: Duration = .milliseconds(300), onDrained: @escaping @Sendable () -> Void) {
        self.runner = runner
        self.settle = settle
        self.onDrained = onDrained
    }

    /// The current status. Takes no lock the job store holds, so `/healthz` may call it.
    public var status: Status {
        let activity = self.runner.activity
        let state = self.state.withLock { $0 }
        return Status(
            draining: activity.draining, activeJobs: activity.activeJobs, runningTasks: activity.runningTasks,
            exitWhenDrained: state.exitWhenDrained, exiting: state.exiting)
    }

    /// Whether Sluice drained with an exit planned and is stopping.
    public var isExiting: Bool { self.state.withLock { $0.exiting } }

    /// Starts draining; doing it again changes nothing. `exitWhenDrained` true plans the exit,
    /// false cancels a planned one, nil leaves the plan as it is (a plain drain never cancels an
    /// exit someone else planned).
    /// - Parameter who: for the log line (a user, or the signal).
    /// - Throws: `DrainRefusal` when cancelling the exit of a Sluice that is already stopping.
    @discardableResult
    public func drain(exitWhenDrained: Bool?, by who: String) throws(DrainRefusal) -> Status {
        let (changed, startWatcher) = try self.state.withLock { state throws(DrainRefusal) -> (Bool, Bool) in
            if state.exiting {
                if exitWhenDrained == false { throw DrainRefusal.stopping }
                return (false, false)
            }
            let wasDraining = self.runner.activity.draining
            let hadExit = state.exitWhenDrained
            // Under our lock, so a concurrent resume cannot interleave with the runner's flag.
            self.runner.drain(true)
            if let exitWhenDrained { state.exitWhenDrained = exitWhenDrained }
            var start = false
            if state.exitWhenDrained && !state.watching {
                state.watching = true
                start = true
            }
            return (!wasDraining || hadExit != state.exitWhenDrained, start)
        }
        let status = self.status
        if changed {
            self.logger.info(
                status.exitWhenDrained ? "draining: no new job starts; exiting once nothing runs" : "draining: no new job starts",
                self.metadata(status, by: who))
        }
        if startWatcher {
            let thread = Thread { [self] in self.watch() }
            thread.name = "drain"
            thread.start()
        }
        return status
    }

    /// Ends draining: queued jobs start again, and a planned exit is cancelled.
    /// - Throws: `DrainRefusal` once Sluice has drained with an exit planned and is stopping.
    @discardableResult
    public func resume(by who: String) throws(DrainRefusal) -> Status {
        let wasDraining = try self.state.withLock { state throws(DrainRefusal) -> Bool in
            if state.exiting { throw DrainRefusal.stopping }
            let wasDraining = self.runner.activity.draining
            state.exitWhenDrained = false
            self.runner.drain(false)
            return wasDraining
        }
        let status = self.status
        if wasDraining { self.logger.info("drain ended: jobs start again", self.metadata(status, by: who)) }
        return status
    }

    /// Waits (on its own thread) until the runner is drained while an exit is planned, then
    /// calls `onDrained` once. Ends when the exit is cancelled.
    private func watch() {
        while true {
            let planned = self.state.withLock { state -> Bool in
                if state.exitWhenDrained && !state.exiting { return true }
                state.watching = false
                return false
            }
            guard planned else { return }
            guard self.runner.waitUntilDrained(timeout: .seconds(1)) else { continue }
            Thread.sleep(forTimeInterval: self.settle.inSeconds)
            let fire = self.state.withLock { state -> Bool in
                guard state.exitWhenDrained, !state.exiting, self.runner.activity.isDrained else { return false }
                state.exiting = true
                state.watching = false
                return true
            }
            if fire {
                self.logger.info("drained: nothing runs any more; stopping", self.metadata(self.status, by: nil))
                self.onDrained()
                return
            }
        }
    }

    private func metadata(_ status: Status, by who: String?) -> [String: String] {
        var metadata = [
            "drain.exit_when_drained": "\(status.exitWhenDrained)", "runner.active_jobs": "\(status.activeJobs)",
            "runner.running_tasks": "\(status.runningTasks)",
        ]
        if let who { metadata["by"] = who }
        return metadata
    }
}

/// A drain change that cannot be made: Sluice drained with an exit planned and is stopping.
public struct DrainRefusal: Error, Sendable, CustomStringConvertible {
    /// Why, safe to show the caller.
    public var message: String

    /// Sluice drained with an exit planned and is stopping.
    static let stopping = DrainRefusal(
        message: "Sluice has drained and is stopping (exit_when_drained); it cannot resume now: start it again instead")

    public var description: String { self.message }
}
