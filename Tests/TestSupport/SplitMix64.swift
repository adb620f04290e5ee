/// A small seedable random number generator (SplitMix64), so a failing random case or schedule can
/// be replayed from its seed.
///
/// ```swift
/// var random = SplitMix64(seed: 42)
/// let delay = Int.random(in: 0..<700, using: &random)
/// ```
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The seed it started from (print it, so a failure can be replayed).
    public let seed: UInt64
    private var state: UInt64

    /// Starts from `seed`, or from a random one if nil.
    public init(seed: UInt64?) {
        self.seed = seed ?? UInt64.random(in: 0...UInt64.max)
        self.state = self.seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
