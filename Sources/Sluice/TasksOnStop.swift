/// What stopping Sluice (SIGTERM, SIGINT, an exit after a drain) does with the tasks still
/// running: `server.tasks_on_stop` in the configuration.
public enum TasksOnStop: String, CaseIterable, Sendable, Hashable {
    /// Leave them running under their supervisors; the next start re-adopts them (the default).
    case keep
    /// Stop every one (SIGTERM, `grace_period_seconds`, SIGKILL) and record it as interrupted,
    /// to be retried per its policy — how Sluice behaved before tasks had supervisors.
    case stop

    /// The runner setting this stands for (`Runner.Configuration.stopTasksOnExit`).
    public var stopsTasks: Bool { self == .stop }
}
