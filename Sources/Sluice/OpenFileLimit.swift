#if canImport(Glibc)
    import Glibc
#endif

/// The process's limit on open files, which bounds how many long-polls can be parked: each
/// holds its FastCGI connection open while it waits.
enum OpenFileLimit {
    /// Raises the soft limit to the hard one (systemd's default is 1,024 soft, 524,288 hard; a
    /// shell's is often 1,024 for both) and returns the soft limit in force afterwards.
    @discardableResult
    static func raiseToHard() -> Int {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Self.current
    }

    /// The soft limit now.
    static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY (all ones) clamps to Int.max
    }
}

extension JobChanges {
    /// Watchers allowed at once: 4,096, or fewer when the open-file limit leaves less room (256
    /// descriptors are kept for the store, logs, task supervisors and accepting).
    static var defaultMaxWatchers: Int { min(4096, max(16, OpenFileLimit.current - 256)) }
}
