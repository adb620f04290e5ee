#if canImport(Glibc)
    import Glibc
#endif

/// How a running task is stopped, as a value: signals to send and waits between them, in the
/// manner of swift-subprocess's teardown sequences (`.send(signal:allowedDurationToNextStep:)`).
///
/// Sluice's sequence is SIGTERM, the grace period, SIGKILL; the supervisor carries it out (it is
/// given the grace period), so cancel and timeouts keep working while Sluice is down. Sluice
/// uses the value to tell the supervisor what to do and to know how long a stop may take.
public struct TeardownSequence: Sendable, Equatable {
    /// One step.
    public enum Step: Sendable, Equatable {
        /// Send `signal` to the task's process group.
        case signal(Int32)
        /// Wait up to this many seconds for the task to end before the next step.
        case wait(Double)
    }

    /// The steps in order.
    public let steps: [Step]

    /// SIGTERM, up to `gracePeriod` seconds, SIGKILL.
    public static func graceful(gracePeriod: Double) -> TeardownSequence {
        TeardownSequence(steps: [.signal(SIGTERM), .wait(max(0, gracePeriod)), .signal(SIGKILL)])
    }

    /// The time from the first signal to the last: the supervisor's `--grace`.
    public var gracePeriod: Double {
        self.steps.reduce(0) { total, step in
            if case .wait(let seconds) = step { return total + seconds }
            return total
        }
    }

    /// How long a stopped task's supervisor may take to exit: the sequence, plus the second the
    /// supervisor keeps reading output after the task's end, plus a margin for a busy machine.
    public var supervisorPatience: Double { self.gracePeriod + 1 + 4 }
}
