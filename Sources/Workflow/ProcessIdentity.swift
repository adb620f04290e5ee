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
        let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let started = boot + ticks / clockTicks
        return abs(started - startedAt.timeIntervalSince1970) < 5
    }

    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
