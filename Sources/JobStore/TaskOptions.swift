public import Foundation

/// What a task does when it runs.
public enum TaskKind: String, Sendable, Hashable, Codable {
    /// Runs a process (the task's argv).
    case command
    /// Runs nothing and succeeds as soon as its needs have: a join point or a group.
    case noop
}

/// How a task runs, beyond its argv: retries, timeout, environment, working directory, expected
/// output and named resources. Stored with the task as resolved at trigger time (templates
/// already rendered), so a resumed job runs exactly what was accepted.
///
/// Secret parameter values never appear here: they reach a task only as `SLUICE_PARAM_*`.
public struct TaskOptions: Sendable, Hashable, Codable {
    /// The retry policy when a command fails or times out.
    public var retry: RetryPolicy
    /// Seconds a process may run before it is stopped (SIGTERM, grace, SIGKILL); nil: no limit.
    public var timeout: Double?
    /// Extra environment variables for the process, on top of the runner's allow-listed ones.
    public var environment: [String: String]
    /// The directory the process starts in (absolute); nil: the job's working directory.
    public var workingDirectory: String?
    /// A path that, when it exists, means the task's work is already done (Luigi's `complete()`):
    /// the task is then skipped as succeeded, and after a successful run the file must exist.
    public var creates: String?
    /// Named resources the task holds while running (`{"db": 1}`), shared across pipelines.
    public var resources: [String: Int]

    /// The defaults: no retries, no timeout, nothing extra.
    public static let standard = TaskOptions()

    /// Creates options.
    public init(
        retry: RetryPolicy = .none, timeout: Double? = nil, environment: [String: String] = [:], workingDirectory: String? = nil,
        creates: String? = nil, resources: [String: Int] = [:]
    ) {
        self.retry = retry
        self.timeout = timeout
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.creates = creates
        self.resources = resources
    }
}

/// When and how often a failed task is tried again: exponential backoff with jitter and a cap.
///
/// The delay before attempt `n + 1` (after `n` failed attempts) is
/// `min(maxDelay, initialDelay * factor^(n-1))`, reduced by a random fraction of up to `jitter`
/// of itself so that many tasks failing together do not retry in lockstep.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Extra attempts after the first (0: never retried).
    public var retries: Int
    /// Seconds before the first retry.
    public var initialDelay: Double
    /// Growth of the delay per attempt.
    public var factor: Double
    /// The longest delay, in seconds.
    public var maxDelay: Double
    /// Fraction (0...1) of the delay that is randomised away.
    public var jitter: Double

    /// No retries.
    public static let none = RetryPolicy(retries: 0)

    /// Creates a policy.
    public init(retries: Int, initialDelay: Double = 1, factor: Double = 2, maxDelay: Double = 300, jitter: Double = 0.5) {
        self.retries = retries
        self.initialDelay = initialDelay
        self.factor = factor
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// Whether a task that has made `attempts` attempts may try again.
    public func allowsAnotherAttempt(after attempts: Int) -> Bool { attempts <= self.retries }

    /// The delay in seconds before the next attempt, after `attempts` (≥ 1) attempts failed.
    /// - Parameter random: a number in `0..<1` (injectable for tests).
    public func delay(after attempts: Int, random: Double) -> Double {
        let exponent = Double(max(0, attempts - 1))
        let base = min(self.maxDelay, self.initialDelay * pow(self.factor, exponent))
        return max(0, base * (1 - self.jitter * random))
    }
}
