/// A value read by many threads and replaced rarely, kept in one copy per stripe: each thread
/// reads the stripe its `ThreadNumber` picks, behind that stripe's own lock.
///
/// Why: one lock read by every request of 8 worker threads on 2 cores was contended often
/// enough to sleep in (3 % of the CPU of a light request in a profile), although it guards only
/// a pointer copy. With a stripe per thread the lock is almost never contended; a replacement
/// takes every stripe's lock in turn, so a reader gets the old value or the new one, whole.
public final class Striped<Value: Sendable>: Sendable {
    @usableFromInline let stripes: [Locked<Value>]
    /// Held while a replacement goes through the stripes, so that two replacements cannot
    /// interleave and leave stripes holding different values.
    private let replacing = Locked(())

    /// Creates `count` stripes (at least 1) holding `value`.
    public init(_ value: Value, count: Int = 16) {
        self.stripes = (0..<max(1, count)).map { _ in Locked(value) }
    }

    /// The value, read from the calling thread's stripe.
    /// (Inlinable, as `Locked.withLock` is.)
    @inlinable
    public var value: Value { self.stripes[ThreadNumber.current % self.stripes.count].withLock { $0 } }

    /// Replaces the value in every stripe. Readers between two stripes' updates may see either
    /// value; each read sees one of them whole.
    public func replace(with value: Value) {
        self.replacing.withLock { _ in
            for stripe in self.stripes { stripe.withLock { $0 = value } }
        }
    }
}
