public import Foundation

/// Recognises processes of task attempts started by an earlier Sluice process, without
/// trusting a pid alone (pids are reused): by the run key every supervisor and task carries in
/// its environment, by session (a supervisor leads its own), and by start time.
public enum ProcessIdentity {
    /// A live process that carries a run key.
    public struct Carrier: Sendable, Equatable {
        /// Its pid.
        public let pid: Int32
        /// Its process group.
        public let processGroup: Int32
        /// Its session.
        public let session: Int32
        /// When it started (from `/proc/<pid>/stat`), if known.
        public let startedAt: Date?
        /// Whether its command line holds `--run-key KEY` (a supervisor's does; a task that
        /// called setsid() itself leads a session too, but was not started with that argument).
        public let namesKey: Bool

        /// Describes a process (the scan makes these; tests may too).
        public init(pid: Int32, processGroup: Int32, session: Int32, startedAt: Date?, namesKey: Bool = true) {
            self.namesKey = namesKey
            self.pid = pid
            self.processGroup = processGroup
            self.session = session
            self.startedAt = startedAt
        }

        /// Whether it leads its own session: supervisors start in a session of their own
        /// (setsid), tasks run in their supervisor's session.
        public var isSessionLeader: Bool { self.session == self.pid }

        /// Whether it is the attempt's supervisor: it leads its own session and was started
        /// with the attempt's run key as its `--run-key` argument.
        public var isSupervisor: Bool { self.isSessionLeader && self.namesKey }
    }

    /// The marker every supervisor and task process carries in its environment as
    /// `SLUICE_RUN_KEY`: which Sluice instance (by its log directory), job, task and attempt it
    /// belongs to. Recovery looks for it because a crash between spawning a supervisor and
    /// recording its pid leaves a live process that no stored pid names.
    ///
    /// The directory is hashed in its lexically normal form (`normalized(_:)`), so spellings of
    /// one path that a config edit may change between two starts (`/srv/data/` for `/srv/data`)
    /// give the same key: otherwise the next start would not recognise the attempts still
    /// running and would run them again beside themselves.
    public static func runKey(logDirectory: String, jobID: Int64, task: String, attempt: Int) -> String {
        "\(self.instancePrefix(logDirectory: logDirectory))\(jobID)/\(task)/\(attempt)"
    }

    /// The start every run key of the instance with `logDirectory` shares: the hash of the
    /// directory and a slash.
    public static func instancePrefix(logDirectory: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the directory: tells instances apart, not a secret
        for byte in self.normalized(logDirectory).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16) + "/"
    }

    /// Live processes whose `SLUICE_RUN_KEY` starts with `prefix` (an `instancePrefix`), by run
    /// key (compared as bytes): every attempt of one instance still running, whatever its job.
    public static func carriers(withPrefix prefix: String) -> [String: [Carrier]] {
        let wanted = Array(prefix.utf8)
        return self.scan { key in key.starts(with: wanted) ? String(decoding: key, as: UTF8.self) : nil }
    }

    /// One pass over /proc: for every live process, each `SLUICE_RUN_KEY` value in its
    /// environment that `match` turns into a key (nil: not wanted), as a `Carrier` of that key.
    private static func scan(_ match: (Data) -> String?) -> [String: [Carrier]] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [:] }
        let prefix = Array("SLUICE_RUN_KEY=".utf8)
        var found: [String: [Carrier]] = [:]
        for entry in entries {
            guard let pid = Int32(entry), pid > 1, let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else {
                continue
            }
            for variable in environ.split(separator: 0) where variable.starts(with: prefix) {
                guard let key = match(variable.dropFirst(prefix.count)), let carrier = self.describe(pid, carrying: key) else { continue }
                found[key, default: []].append(carrier)
            }
        }
        return found
    }

    /// `path` without empty and `.` components and with each `..` taking the component before
    /// it away (above the root: nothing), `/`-separated: `/srv//data/./logs/` → `/srv/data/logs`.
    /// Purely lexical: symbolic links are not resolved (a path through a link still names
    /// another instance).
    static func normalized(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if let last = components.last, last != ".." {
                    components.removeLast()
                } else if !path.hasPrefix("/") {
                    components.append(component)
                }
            default: components.append(component)
            }
        }
        let joined = components.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// Live processes whose environment holds one of `keys` as `SLUICE_RUN_KEY`, by key (keys
    /// compared as bytes). Reads `/proc/<pid>/environ`, which the kernel fills at exec time and
    /// which only processes of the same user (or root) may read: supervisors and tasks are
    /// Sluice's own. One pass over /proc however many keys are asked for.
    public static func carriers(of keys: Set<String>) -> [String: [Carrier]] {
        guard !keys.isEmpty else { return [:] }
        let wanted = Dictionary(keys.map { (Array($0.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        return self.scan { wanted[Array($0)] }
    }

    /// `pid` as a carrier of `key`, if it is alive and its environment holds exactly that run
    /// key: the check after a pidfd was opened for a process a scan found (it may have exited
    /// and its pid been reused in between). Reads only that process's /proc entries.
    public static func carrier(pid: Int32, key: String) -> Carrier? {
        guard pid > 1, let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        let wanted = Array("SLUICE_RUN_KEY=\(key)".utf8)
        guard environ.split(separator: 0).contains(where: { $0.elementsEqual(wanted) }) else { return nil }
        return self.describe(pid, carrying: key)
    }

    /// `pid`, known to carry `key`, as a `Carrier`: its group, session and start time from
    /// `/proc/<pid>/stat`, and (for a session leader) whether its command line names the key.
    private static func describe(_ pid: Int32, carrying key: String) -> Carrier? {
        guard let stat = self.stat(of: pid) else { return nil }
        let started = self.bootTime.flatMap { boot in self.clockTicks.map { Date(timeIntervalSince1970: boot + stat.startTicks / $0) } }
        let namesKey = stat.session == pid && self.commandLine(of: pid, names: key)
        return Carrier(pid: pid, processGroup: stat.group, session: stat.session, startedAt: started, namesKey: namesKey)
    }

    /// Whether `/proc/<pid>/cmdline` holds the two arguments `--run-key` and `key` in a row
    /// (compared as bytes).
    static func commandLine(of pid: Int32, names key: String) -> Bool {
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = cmdline.split(separator: 0, omittingEmptySubsequences: false)
        let flag = Array("--run-key".utf8)
        let wanted = Array(key.utf8)
        for i in arguments.indices.dropLast() where arguments[i].elementsEqual(flag) {
            if arguments[i + 1].elementsEqual(wanted) { return true }
        }
        return false
    }

    /// Process groups of live processes whose environment holds one of `keys`, by key.
    public static func processGroups(carrying keys: Set<String>) -> [String: Set<Int32>] {
        self.carriers(of: keys).mapValues { Set($0.map(\.processGroup)) }
    }

    /// Fields of `/proc/<pid>/stat` after the command name (which may contain spaces and
    /// parentheses): pgrp is field 5, session field 6, starttime field 22 (clock ticks after
    /// boot), per proc(5).
    static func stat(of pid: Int32) -> (group: Int32, session: Int32, startTicks: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else {
            return nil
        }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let group = Int32(fields[2]), let session = Int32(fields[3]), let ticks = Double(fields[19]) else {
            return nil
        }
        return (group, session, ticks)
    }

    /// The process group id of `pid`, from `/proc/<pid>/stat`.
    public static func processGroup(of pid: Int32) -> Int32? { self.stat(of: pid)?.group }

    /// sysconf's clock tick rate; nil if unknown (it returns -1 for names it does not know).
    private static let clockTicks: Double? = {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ticks > 0 ? ticks : nil
    }()

    /// The boot time in Unix seconds (`btime` in /proc/stat): read once, it does not change
    /// while the system runs, and re-adopting a thousand tasks would otherwise read it a
    /// thousand times.
    private static let bootTime: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }()
}
