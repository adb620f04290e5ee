internal import CSpawn
import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// A task log with a size cap: the first `headBytes` of output, then (only if output was left
/// out) a marker line `\n[sluice: N bytes omitted]\n`, then the last `tailBytes` of output.
///
/// While the task runs, the head is written as it arrives and the tail is kept in memory and
/// rewritten after the head at most about once a second, so a reader of the file sees the head,
/// the marker and recent output. Output that fits in head + tail is stored byte for byte and
/// with no marker. Memory stays bounded by `tailBytes` whatever the task prints.
///
/// `TaskProcess.supervise(_:logPath:limits:)` drives it; only the limits are public.
public struct LogCapture: ~Copyable {
    /// How much of a task's output the log keeps.
    public struct Limits: Sendable, Equatable {
        /// The default size of the head and of the tail: 1 MiB each.
        public static let defaultBytes = 1 << 20

        /// Bytes kept from the start of the output.
        public var headBytes: Int
        /// Bytes kept from the end of the output.
        public var tailBytes: Int

        /// Limits of `headBytes` and `tailBytes` (negative values count as 0).
        public init(headBytes: Int = Limits.defaultBytes, tailBytes: Int = Limits.defaultBytes) {
            self.headBytes = max(0, headBytes)
            self.tailBytes = max(0, tailBytes)
        }
    }

    /// Bytes read from the pipe at a time: the only memory besides the tail.
    static let readSize = 64 * 1024
    /// Least time between two rewrites of the tail while the task runs.
    static let rewriteInterval = Duration.seconds(1)

    /// The marker line that stands for `omitted` bytes left out of the log.
    static func marker(omitted: Int64) -> [UInt8] { Array("\n[sluice: \(omitted) bytes omitted]\n".utf8) }

    /// The log file, or -1 if it could not be opened or a write to it failed.
    private var fd: Int32
    private let head: Int64
    private var tail: TailBuffer
    /// Every byte appended so far.
    private(set) var total: Int64 = 0
    /// Whether the file lacks tail bytes that `rewrite()` would add.
    private var stale = false
    /// Why the log stopped being written (a full disk, an I/O error), if it did.
    private(set) var failure: String? = nil
    private var lastRewrite = ContinuousClock.now

    /// Creates (or truncates) the log at `logPath`, mode 0640. If that fails, output is still
    /// counted but not stored.
    init(logPath: String, limits: Limits) {
        var fd: Int32
        repeat { fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640) } while fd < 0 && errno == EINTR
        self.fd = fd
        self.head = Int64(limits.headBytes)
        self.tail = TailBuffer(capacity: limits.tailBytes)
    }

    deinit {
        // Never retry close on EINTR: Linux releases the descriptor anyway, and a retry could
        // close one another thread has just been given.
        if self.fd >= 0 { close(self.fd) }
    }

    /// Bytes that are neither in the head nor in the tail.
    var omitted: Int64 { self.total - min(self.total, self.head) - Int64(self.tail.count) }

    /// When the next rewrite is due, or nil if the file is up to date.
    var nextRewrite: ContinuousClock.Instant? { self.stale ? self.lastRewrite + Self.rewriteInterval : nil }

    /// Adds output: to the file while it is within the head or nothing has been omitted yet,
    /// and always to the tail once past the head.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        if self.total < self.head {
            let n = Int(min(Int64(rest.count), self.head - self.total))
            self.store(UnsafeRawBufferPointer(rebasing: rest[..<n]), at: self.total)
            self.total += Int64(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
        guard !rest.isEmpty else { return }
        self.tail.append(rest)
        let offset = self.total
        self.total += Int64(rest.count)
        if self.omitted == 0 {
            // Everything so far fits: the file stays the complete output, appended in place.
            self.store(rest, at: offset)
        } else {
            self.stale = true
        }
    }

    /// Rewrites marker and tail after the head if they changed and the last rewrite is at least
    /// `rewriteInterval` old (or at once with `force`).
    mutating func rewriteIfDue(now: ContinuousClock.Instant = .now, force: Bool = false) {
        guard let due = self.nextRewrite, force || now >= due else { return }
        self.stale = false
        self.lastRewrite = now
        var offset = self.head
        self.store(Self.marker(omitted: self.omitted), at: &offset)
        self.tail.withContents { first, second in
            self.store(first, at: &offset)
            self.store(second, at: &offset)
        }
        // The marker's count only grows, so the file rarely shrinks; truncate anyway so that it
        // ends exactly after the tail.
        guard self.fd >= 0 else { return }
        do {
            try syscall(where: "ftruncate") { ftruncate(self.fd, off_t(offset)) }
        } catch {
            self.fail(at: offset, reason: error.message)
        }
    }

    /// Brings the file up to date, closes it, and returns the byte counts and why the log was
    /// cut short, if it was.
    consuming func finish() -> (written: Int64, omitted: Int64, failure: String?) {
        self.rewriteIfDue(force: true)
        return (self.total, self.omitted, self.failure)
    }

    /// The line that marks where a log was cut because it could not be written.
    static func cutMarker(_ reason: String) -> [UInt8] { Array("\n[sluice: log cut here: \(reason)]\n".utf8) }

    private mutating func store(_ bytes: [UInt8], at offset: inout Int64) {
        bytes.withUnsafeBytes { self.store($0, at: &offset) }
    }

    private mutating func store(_ bytes: UnsafeRawBufferPointer, at offset: inout Int64) {
        self.store(bytes, at: offset)
        offset += Int64(bytes.count)
    }

    /// Writes all of `bytes` at `offset` (pwrite may write less than asked). After a failure
    /// (disk full, I/O error) nothing more is stored: a log with holes would be worse.
    private mutating func store(_ bytes: UnsafeRawBufferPointer, at offset: Int64) {
        var done = 0
        while self.fd >= 0 && done < bytes.count {
            let fd = self.fd
            do {
                let n = try syscall(where: "pwrite") {
                    pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                }
                guard n > 0 else {
                    self.fail(at: offset + Int64(done), reason: "no progress writing the log")
                    continue
                }
                done += n
            } catch {
                self.fail(at: offset + Int64(done), reason: error.message)
            }
        }
    }

    /// Stops writing after a failed write at `offset`: marks the cut in the file, remembers why,
    /// and closes it.
    ///
    /// The marker goes *over the last bytes already written* (ending at `offset`) and the file
    /// is cut there: on a full disk, rewriting blocks that are already allocated needs no new
    /// space, while appending the marker would fail like the write before it. A log shorter than
    /// the marker gets it from the start, best effort.
    private mutating func fail(at offset: Int64, reason: String) {
        let marker = Self.cutMarker(reason)
        let start = max(0, offset - Int64(marker.count))
        _ = marker.withUnsafeBytes { pwrite(self.fd, $0.baseAddress, $0.count, off_t(start)) }
        _ = ftruncate(self.fd, off_t(start + Int64(marker.count)))
        if self.failure == nil { self.failure = reason }
        try? Posix.close(self.fd)
        self.fd = -1
    }
}

extension TaskProcess {
    /// How long output is still read after the task's leader exited. A background child may
    /// keep the pipe open forever: the runner kills the task's process group only once
    /// `supervise` has returned, and a child that left the group with setsid() escapes even that.
    static let drainTime = Duration.seconds(1)
    /// How often `supervise` checks `waitpid(WNOHANG)` when it has no pidfd to wait on.
    static let reapInterval = Duration.milliseconds(100)

    /// Copies the output of `task` into a size-capped log at `logPath` until the task exits,
    /// reaps it, and returns its exit code and output sizes. Blocks the calling thread (the
    /// task's waiter thread) for as long as the task runs.
    ///
    /// The log is created (mode 0640) or truncated, and holds the first `limits.headBytes` of
    /// output; if more than `headBytes + tailBytes` bytes arrive, a marker line
    /// `\n[sluice: N bytes omitted]\n` and the last `limits.tailBytes` follow. See `LogCapture`.
    ///
    /// It waits on the pipe and the pidfd with poll(2). Once the leader has exited and been
    /// reaped, it reads what is left in the pipe for at most about a second more, then returns
    /// even if a background process still holds the pipe open. Without a pidfd (`pidFD` -1, a
    /// kernel before 5.3) it reads the pipe and checks `waitpid(WNOHANG)` every 100 ms instead,
    /// so the same limits hold; if the task closes its output early it just blocks in `waitpid`.
    ///
    /// With `killGroupOnExit`, the task's process group gets SIGKILL as soon as the leader is
    /// reaped: the task is over then, and background children it left would otherwise keep
    /// running unsupervised (and keep the pipe open until the drain time runs out).
    ///
    /// Closes `task.outputFD` and `task.pidFD`. Nothing else may reap `task.pid`.
    public static func supervise(
        _ task: SpawnedTask, logPath: String, limits: LogCapture.Limits = .init(), killGroupOnExit: Bool = false
    ) -> TaskOutcome {
        var capture = LogCapture(logPath: logPath, limits: limits)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LogCapture.readSize, alignment: 1)
        defer {
            buffer.deallocate()
            // Posix.close never retries: Linux has released the descriptor even after EINTR.
            try? Posix.close(task.outputFD)
            if task.pidFD >= 0 { try? Posix.close(task.pidFD) }
        }
        var outputOpen = true
        var exitCode: Int32? = nil
        // Set when the task is reaped: reading stops at end-of-file or at this instant.
        var drainDeadline: ContinuousClock.Instant? = nil

        while true {
            let now = ContinuousClock.now
            if let deadline = drainDeadline, !outputOpen || now >= deadline { break }
            if exitCode == nil && !outputOpen && task.pidFD < 0 {
                // Fallback with the pipe closed: nothing left to watch but the process itself.
                exitCode = self.wait(task.pid)
                break
            }

            var timeout = capture.nextRewrite.map { $0 - now }
            if let deadline = drainDeadline { timeout = min(timeout ?? deadline - now, deadline - now) }
            if exitCode == nil && task.pidFD < 0 { timeout = min(timeout ?? Self.reapInterval, Self.reapInterval) }
            // A negative fd makes poll skip the entry (revents 0): the pipe after end-of-file, the
            // pidfd once the task is reaped or when there is none.
            var fds = [
                pollfd(fd: outputOpen ? task.outputFD : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: exitCode == nil ? task.pidFD : -1, events: Int16(POLLIN), revents: 0),
            ]
            let milliseconds = timeout.map(Self.milliseconds) ?? -1
            // EINTR is retried inside `syscall` with the same timeout; the deadlines are
            // recomputed on the next pass, so an interruption only delays them slightly.
            guard (try? syscall(where: "poll") { poll(&fds, nfds_t(fds.count), milliseconds) }) != nil else {
                // EINVAL/ENOMEM: cannot wait on the descriptors; still reap the task.
                if exitCode == nil { exitCode = self.wait(task.pid) }
                break
            }

            // A pipe reports POLLHUP once every writer is gone, possibly together with POLLIN
            // while data is left, so any event means "read": only read() == 0 is end-of-file.
            if fds[0].revents != 0 {
                do {
                    let n = try syscall(where: "read") { read(task.outputFD, buffer.baseAddress, buffer.count) }
                    if n > 0 {
                        capture.append(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    } else {
                        outputOpen = false  // end-of-file: every writer is gone
                    }
                } catch {
                    // EAGAIN cannot happen on this blocking pipe, but would only mean "no data yet".
                    if error.errno != EAGAIN { outputOpen = false }
                }
            }
            // A pidfd polls readable (POLLIN) when the process has exited, and is not consumed
            // by reading: reap with waitpid, which returns at once now that it is a zombie.
            if exitCode == nil, fds[1].revents != 0 {
                exitCode = self.wait(task.pid)
            } else if exitCode == nil, task.pidFD < 0 {
                exitCode = self.reapIfExited(task.pid)
            }
            if exitCode != nil && drainDeadline == nil {
                drainDeadline = ContinuousClock.now + self.drainTime
                // The group id stays reserved while any member lives, so it cannot name a
                // stranger's group here.
                if killGroupOnExit { self.signalGroup(task.pid, SIGKILL) }
            }
            capture.rewriteIfDue()
        }
        let (written, omitted, failure) = capture.finish()
        return TaskOutcome(exitCode: exitCode ?? -1, bytesWritten: written, bytesOmitted: omitted, logFailure: failure)
    }

    /// The exit code of `pid` if it has exited (reaping it), nil while it runs; -1 if it cannot
    /// be waited for (already reaped elsewhere).
    private static func reapIfExited(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        guard let result = try? syscall(where: "waitpid", { waitpid(pid, &status, WNOHANG) }) else { return -1 }
        return result == 0 ? nil : self.exitCode(status: status)
    }

    /// `duration` as a poll(2) timeout: whole milliseconds, rounded up so that a wait for a
    /// deadline does not wake just before it and spin; never negative.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: millis)
    }
}
