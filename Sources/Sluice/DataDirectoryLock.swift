import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The data directory's owner: an exclusive lock on `data_dir/sluice.lock`, taken before the
/// job store is opened and held until the process exits.
///
/// Two `sluice serve` processes on one data directory destroy each other: each one's crash
/// recovery takes the other's running tasks for leftovers of a dead process and kills them. The
/// lock makes the second process either refuse to start (a clear error naming the holder) or,
/// when it was started by a front server that replaces its backend (lighttpd `bin-path`, where a
/// stop followed at once by a start overlaps the old process's drain), wait until the old one has
/// finished and let go.
///
/// Why `flock` and not `fcntl` record locks: a record lock belongs to the process and is
/// dropped when the process closes *any* descriptor of the file; an `flock` lock belongs to the
/// open file description, so nothing else in the process can release it by accident. The
/// descriptor is close-on-exec, so no task inherits it and keeps the directory locked after
/// Sluice is gone. The kernel releases the lock when the process dies, however it dies: no stale
/// lock is ever left to clean up by hand.
final class DataDirectoryLock: Sendable {
    /// The lock file.
    let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { try? Posix.close(self.descriptor) }

    /// What to do when another process holds the lock.
    enum Contention {
        /// Fail at once with `DataDirectoryLockError.inUse`.
        case fail
        /// Wait until the holder lets go, calling `waiting` with its pid (if known) before the
        /// first wait and then about every `reportEvery`; give up (`DataDirectoryLockError`) as
        /// soon as `giveUp` says so (a stop signal arrived while waiting).
        case wait(reportEvery: Duration, waiting: (_ holder: Int32?) -> Void, giveUp: () -> Bool)
    }

    /// Takes the lock on `directory/sluice.lock` and writes this process's pid into the file.
    /// - Throws: `DataDirectoryLockError`.
    static func acquire(directory: String, contention: Contention) throws(DataDirectoryLockError) -> DataDirectoryLock {
        let path = directory + "/sluice.lock"
        let fd: Int32
        do {
            fd = try syscall(where: "open") { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        } catch {
            throw DataDirectoryLockError(path: path, reason: "cannot open the lock file: \(error.message)")
        }
        let lock = DataDirectoryLock(path: path, descriptor: fd)
        var lastReport: ContinuousClock.Instant? = nil
        while true {
            // Non-blocking, polled: a blocking flock could only be interrupted by a signal, and
            // the termination signals are blocked (sigwait takes them) until serving starts.
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { break }
            let error = errno
            if error == EINTR { continue }
            guard error == EWOULDBLOCK else {
                throw DataDirectoryLockError(path: path, reason: "cannot lock: \(SystemCallError(function: "flock", errno: error).message)")
            }
            switch contention {
            case .fail:
                throw DataDirectoryLockError(path: path, holder: lock.holder(), inUse: true)
            case .wait(let every, let waiting, let giveUp):
                if giveUp() { throw DataDirectoryLockError(path: path, reason: "stopped while waiting for the lock") }
                let now = ContinuousClock.now
                if lastReport.map({ now - $0 >= every }) ?? true {
                    waiting(lock.holder())
                    lastReport = now
                }
                usleep(100_000)
            }
        }
        lock.recordOwner()
        return lock
    }

    /// Who holds the lock of `directory`, without taking it (for `sluice drain`): nil when no
    /// process holds it (nothing serves that data directory), else the pid the holder wrote.
    ///
    /// Probes with a non-blocking shared `flock`: it fails only while a `serve` holds the
    /// exclusive lock, and when it succeeds it is released at once. (A `serve --socket` starting
    /// in that same instant would find the directory in use; the probe lasts microseconds.)
    /// - Throws: `DataDirectoryLockError` if the file cannot be opened or locked, or a holder
    ///   wrote no pid.
    static func holder(of directory: String) throws(DataDirectoryLockError) -> Int32? {
        let path = directory + "/sluice.lock"
        let fd: Int32
        do {
            fd = try syscall(where: "open") { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        } catch {
            if error.errno == ENOENT { return nil }
            throw DataDirectoryLockError(path: path, reason: "cannot open the lock file: \(error.message)")
        }
        let lock = DataDirectoryLock(path: path, descriptor: fd)
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            let error = errno
            if error == EINTR { continue }
            guard error == EWOULDBLOCK else {
                throw DataDirectoryLockError(
                    path: path, reason: "cannot probe the lock: \(SystemCallError(function: "flock", errno: error).message)")
            }
            guard let pid = lock.holder(), pid > 1 else {
                throw DataDirectoryLockError(path: path, reason: "the lock is held, but the file names no process")
            }
            return pid
        }
        _ = flock(fd, LOCK_UN)
        return nil
    }

    /// The pid the current holder wrote into the file, if readable.
    private func holder() -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }

    /// Replaces the file's content with this process's pid, for the next process's message.
    /// Only informative: the lock, not the text, decides who owns the directory.
    private func recordOwner() {
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(self.descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(self.descriptor, $0.baseAddress, $0.count, 0) }
    }
}

/// The data directory could not be locked for this process.
struct DataDirectoryLockError: Error, Sendable, CustomStringConvertible {
    /// The lock file.
    var path: String
    /// Why.
    var reason: String
    /// Whether another process holds the lock (rather than an I/O problem).
    var isInUse = false

    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    init(path: String, holder: Int32?, inUse: Bool) {
        self.path = path
        self.isInUse = inUse
        let who = holder.map { "process \($0)" } ?? "another process"
        self.reason =
            "the data directory is in use by \(who) (another sluice serve on the same server.data_dir); stop it first, or give this one its own data_dir"
    }

    var description: String { "\(self.path): \(self.reason)" }
}
