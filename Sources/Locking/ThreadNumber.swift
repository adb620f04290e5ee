import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small number for each thread, given in the order threads first ask: 0, 1, 2, …
///
/// Kept in one thread-specific key for the process (POSIX has a few hundred keys at most, so
/// not one per store). A number is never given again, so a thread that ends and a new one never
/// share a number, and numbers keep growing with threads started over the process's life: users
/// reduce it modulo what they spread over.
public enum ThreadNumber {
    private static let key: Key = {
        var key = pthread_key_t()
        // No destructor: the value is a number, not memory.
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return Key(value: key)
    }()
    private static let next = Atomic<Int>(0)

    /// `pthread_key_t` is a plain integer on Linux; wrapped so the static is Sendable.
    private struct Key: @unchecked Sendable { let value: pthread_key_t }

    /// The calling thread's number.
    public static var current: Int {
        // Stored plus one, as a pointer's bits: nil (0) means "none yet".
        if let stored = pthread_getspecific(Self.key.value) { return Int(bitPattern: stored) - 1 }
        let number = Self.next.add(1, ordering: .relaxed).newValue - 1
        pthread_setspecific(Self.key.value, UnsafeRawPointer(bitPattern: number + 1))
        return number
    }
}
