public import CSanitizer
public import Synchronization

/// A value shared between threads behind a lock: `Synchronization.Mutex`, with annotations that
/// let ThreadSanitizer see the lock. Use it instead of `Mutex` everywhere (tests included).
///
/// Why not `Mutex` itself: on Linux, `Mutex.withLock` takes the lock with a compare-and-swap
/// inlined into the caller and, when that fails, by spinning in the Synchronization library and
/// then waiting on a priority-inheriting futex, where the kernel hands the lock over. TSan
/// instruments only our own code, so it sees the inlined compare-and-swap but neither the
/// library's nor the kernel's hand-over: a lock taken after contention carries no
/// happens-before edge for it, and every contended `withLock` is reported as a data race on
/// the value it guards. `scripts/test --tsan` reported four of these (the configuration
/// snapshot, the runner's secrets table, the job store's reader pool), none of them a real
/// race. `Locked` tells TSan about each hand-over (`__tsan_release` before unlocking,
/// `__tsan_acquire` after locking, on this object's address); in any build without TSan the
/// annotations are a null check each (see CSanitizer.h).
///
/// A class so that the annotation address is stable and there is nothing to copy; the one
/// allocation is made once, where the lock is created.
///
/// Do not keep a closure (or a value holding one) in it directly: `withLock` hands the value
/// through a generic `inout`, so a closure is reabstracted on the way in and written back in one
/// more thunk each time, and calls to it grow deeper with every access. Keep it in a class
/// instead (`CreatedJobsObserver`; `GroupCommittedSubmitTests` shows the depth staying put).
///
/// Sendable for any `Value`, like `Mutex`: a value only ever enters (`init`, `withLock`'s
/// `inout sending`) or leaves (`sending` result) as a value no other thread still refers to.
public final class Locked<Value>: Sendable {
    @usableFromInline let mutex: Mutex<Value>

    /// Creates a lock that guards `initialValue`.
    public init(_ initialValue: consuming sending Value) {
        self.mutex = Mutex(initialValue)
    }

    /// Runs `body` with exclusive access to the value and returns what it returns.
    ///
    /// Keep `body` short and never call `withLock` on the same lock from inside it (that
    /// deadlocks; `Mutex` traps).
    ///
    /// Inlinable, so that callers in other modules get it specialized: called through its
    /// generic entry point, every lock of a request paid for type metadata and indirect
    /// copies (a profile of job JSON found the lock's generic code in 5 % of the CPU).
    @inlinable
    public func withLock<Result, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try self.mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            // Acquire before the body's first access to `value`, release after its last: the
            // `defer` runs once `body`'s access to `value` has ended.
            let address = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
            csanitizer_acquire(address)
            defer { csanitizer_release(address) }
            return try body(&value)
        }
    }
}
