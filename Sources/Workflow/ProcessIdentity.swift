import Foundation

/// Recognises a task process left behind by an earlier Sluice process, without trusting the pid
/// alone (pids are reused): the process must lead its own process group and must have started
/// within a few seconds of the recorded start time.
enum ProcessIdentity {
    /// Whether `pid` is still the task process that started at `startedAt`.
    static func isTaskProcess(pid: Int32, startedAt: Date) -> Bool {
        guard pid > 1, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        // Fields after the command name (which may contain spaces and parentheses): state is
        // field 3, pgrp field 5, starttime field 22 (clock ticks after boot), per proc(5).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let pgrp = Int32(fields[2]), let ticks = Double(fields[19]) else { return false }
        guard pgrp == pid, let boot = self.bootTime() else { return false }
        // sysconf returns -1 for a name it does not know; never for _SC_CLK_TCK on Linux, but a
        // negative tick rate would turn every start time into nonsense rather than a refusal.
        let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard clockTicks > 0 else { return false }
        let started = boot + ticks / clockTicks
        return abs(started - startedAt.timeIntervalSince1970) < 5
    }

    /// The marker every task process carries in its environment as `SLUICE_RUN_KEY`: which
    /// Sluice instance (by its log directory), job, task and attempt it belongs to. Recovery
    /// looks for it because a crash between spawning a task and recording its pid leaves a live
    /// process that no stored pid names.
    static func runKey(logDirectory: String, jobID: Int64, task: String, attempt: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the directory: tells instances apart, not a secret
        for byte in logDirectory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "\(String(hash, radix: 16))/\(jobID)/\(task)/\(attempt)"
    }

    /// Process groups of live processes whose environment holds one of `keys`, by key. Reads
    /// `/proc/<pid>/environ`, which the kernel fills at exec time and which only processes of
    /// the same user (or root) may read — task processes are Sluice's own children.
    static func processGroups(carrying keys: Set<String>) -> [String: Set<Int32>] {
        guard !keys.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [:] }
        var found: [String: Set<Int32>] = [:]
        for entry in entries {
            guard let pid = Int32(entry), pid > 1,
                let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            for variable in environ.split(separator: 0) where variable.starts(with: Array("SLUICE_RUN_KEY=".utf8)) {
                let key = String(decoding: variable.dropFirst(15), as: UTF8.self)
                guard keys.contains(key), let group = self.processGroup(of: pid) else { continue }
                found[key, default: []].insert(group)
            }
        }
        return found
    }

    /// The process group id of `pid`, from `/proc/<pid>/stat`.
    static func processGroup(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 ? Int32(fields[2]) : nil
    }

    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
