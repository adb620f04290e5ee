/// How much of a task attempt's output its log keeps: the first `headBytes`, then (only if
/// output was left out) a marker line `\n[sluice: N bytes omitted]\n`, then the last
/// `tailBytes`. The supervisor applies them (docs/supervisor.md).
public struct LogLimits: Sendable, Equatable {
    /// The default size of the head and of the tail: 1 MiB each.
    public static let defaultBytes = 1 << 20

    /// Bytes kept from the start of the output.
    public var headBytes: Int
    /// Bytes kept from the end of the output.
    public var tailBytes: Int

    /// Limits of `headBytes` and `tailBytes` (negative values count as 0).
    public init(headBytes: Int = LogLimits.defaultBytes, tailBytes: Int = LogLimits.defaultBytes) {
        self.headBytes = max(0, headBytes)
        self.tailBytes = max(0, tailBytes)
    }
}
