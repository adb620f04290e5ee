import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Commands {
    /// `sluice drain --config FILE [--exit] [--wait]`: asks the `sluice serve` that owns the
    /// configuration's data directory to drain — SIGUSR1, or with `--exit` SIGUSR2 (drain, then
    /// exit once nothing runs) — and with `--wait` waits until that process has exited.
    ///
    /// The process is the one holding `data_dir/sluice.lock` (its pid is in the file); it is
    /// signalled only while the lock is actually held and its command line is a `serve`, so a
    /// stale file never makes the command signal an unrelated process. Resuming is done with
    /// `DELETE /api/v1/admin/drain` or a restart.
    /// - Returns: 0 when signalled (and, with `--wait`, exited); 1 when nothing serves the data
    ///   directory or the signal cannot be sent.
    public static func drain(configPath: String, exit: Bool, wait: Bool) -> Int32 {
        func fail(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("sluice: \(message)\n".utf8))
            return 1
        }
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        let data = configuration.server.dataDirectory
        let holder: Int32?
        do { holder = try DataDirectoryLock.holder(of: data) } catch { return fail("\(error)") }
        guard let pid = holder else { return fail("no sluice serve runs on \(data) (nothing holds \(data)/sluice.lock)") }
        guard let started = ServeProcess.startTime(of: pid), ServeProcess.isServe(pid) else {
            return fail("process \(pid) named in \(data)/sluice.lock is not a running sluice serve; not signalling it")
        }
        let (signal, name, meaning) = exit ? (SIGUSR2, "SIGUSR2", "drain, then exit once nothing runs") : (SIGUSR1, "SIGUSR1", "drain")
        guard kill(pid, signal) == 0 else {
            let error = errno
            if error == EPERM { return fail("not permitted to signal process \(pid): run sluice drain as the user sluice serve runs as") }
            return fail("cannot signal process \(pid): \(String(cString: strerror(error)))")
        }
        print("sluice: sent \(name) to sluice serve process \(pid) (\(meaning))")
        guard wait else { return 0 }
        print("sluice: waiting for process \(pid) to exit")
        // Said now, not when the buffer of a pipe fills: a script or log follows the wait.
        fflush(nil)
        while ServeProcess.isAlive(pid, started: started) { usleep(100_000) }
        print("sluice: process \(pid) has exited")
        return 0
    }
}

/// What `sluice drain` checks about the process named in the lock file, from `/proc`.
enum ServeProcess {
    /// Whether `pid` runs a `serve` (its command line has that argument): the lock file names
    /// the holder, but a pid alone may have been reused by now.
    static func isServe(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return data.split(separator: 0).contains { Array($0) == Array("serve".utf8) }
    }

    /// The process's start time (clock ticks after boot, field 22 of `/proc/<pid>/stat`), or nil
    /// if it does not exist or has exited (a zombie).
    static func startTime(of pid: Int32) -> UInt64? {
        guard pid > 1, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name (which may hold spaces and parentheses): state is field 3,
        // starttime field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields.first, !["Z", "X", "x"].contains(state) else { return nil }
        return UInt64(fields[19])
    }

    /// Whether the process that started at `started` still runs under `pid`: it has exited once
    /// the pid is gone, a zombie (its parent has not reaped it yet, but its files and locks are
    /// released), or another process's.
    static func isAlive(_ pid: Int32, started: UInt64) -> Bool {
        self.startTime(of: pid) == started
    }
}
