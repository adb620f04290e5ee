import Foundation
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.timeLimit(.minutes(1))) struct ProcessIdentityTests {
    /// A run key no other test (or earlier run) uses.
    static func uniqueKey(task: String = "t") -> String {
        ProcessIdentity.runKey(logDirectory: "/tmp/process-identity-\(UUID().uuidString)", jobID: 1, task: task, attempt: 1)
    }

    /// `/bin/sleep 30` carrying `key` (stdout and stderr to /dev/null, so nothing to clean up).
    static func sleeper(_ key: String, path: String = "/bin/sleep", arguments: [String] = ["30"]) throws -> ChildProcess {
        try ChildProcess(path: path, arguments: arguments, environment: ["SLUICE_RUN_KEY": key], stdout: .null, stderr: .null)
    }

    // MARK: - Run keys

    @Test("A run key is the log directory's FNV-1a hash in hex, the job id, the task and the attempt, joined by '/'")
    func runKeyFormat() {
        // FNV-1a 64 of "a" is the published test vector; "a/" and "./a" name the same directory.
        #expect(ProcessIdentity.runKey(logDirectory: "a/", jobID: 42, task: "extract", attempt: 1) == "af63dc4c8601ec8c/42/extract/1")
        #expect(ProcessIdentity.runKey(logDirectory: "./a", jobID: 42, task: "extract", attempt: 1) == "af63dc4c8601ec8c/42/extract/1")
        #expect(ProcessIdentity.runKey(logDirectory: "a", jobID: 7, task: "b.c-d", attempt: 12) == "af63dc4c8601ec8c/7/b.c-d/12")
    }

    @Test("Run keys of two Sluice instances differ by their log directory's hash, and only there")
    func runKeyDiffersByLogDirectory() throws {
        let a = ProcessIdentity.runKey(logDirectory: "/var/log/sluice", jobID: 3, task: "build", attempt: 2)
        let b = ProcessIdentity.runKey(logDirectory: "/var/log/sluice2", jobID: 3, task: "build", attempt: 2)
        #expect(a != b)
        let (partsA, partsB) = (a.split(separator: "/"), b.split(separator: "/"))
        #expect(partsA.count == 4 && partsB.count == 4)
        #expect(partsA[0] != partsB[0])
        #expect(partsA.dropFirst() == partsB.dropFirst())
        #expect(partsA.dropFirst() == ["3", "build", "2"])
        // Same directory, same hash: one instance's attempts share it.
        #expect(ProcessIdentity.runKey(logDirectory: "/var/log/sluice", jobID: 9, task: "x", attempt: 1).hasPrefix(partsA[0] + "/"))
        // Lowercase hex, at most 16 digits.
        for part in [partsA[0], partsB[0]] {
            #expect(part.count <= 16 && part.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(part)")
        }
        // Directories that differ only by Unicode normalisation are different directories, so different instances.
        let composed = ProcessIdentity.runKey(logDirectory: "/srv/caf\u{E9}", jobID: 1, task: "t", attempt: 1)
        let decomposed = ProcessIdentity.runKey(logDirectory: "/srv/cafe\u{301}", jobID: 1, task: "t", attempt: 1)
        #expect(!composed.utf8.elementsEqual(decomposed.utf8))
    }

    // MARK: - Scanning /proc

    @Test("carriers(of:) finds a live child carrying the key, with its pid, group, session and a recent start time")
    func findsCarrier() throws {
        let key = Self.uniqueKey()
        let absent = Self.uniqueKey()
        let started = Date()
        let child = try Self.sleeper(key)
        let spawned = Date()
        defer { child.terminate(signal: SIGKILL) }
        let found = try #require(Poll.blockingValue(within: .seconds(5)) { ProcessIdentity.carriers(of: [key, absent])[key] })
        #expect(found.count == 1)
        let carrier = try #require(found.first)
        #expect(carrier.pid == child.pid)
        #expect(carrier.processGroup == child.pid)  // ChildProcess starts it in a group of its own
        #expect(carrier.session == getsid(0))  // but in the test process's session
        #expect(!carrier.isSessionLeader)
        let startedAt = try #require(carrier.startedAt)
        // Between the spawn call and its return (a loaded machine once took 8 s for that), with
        // 2 s for the boot time's whole seconds and clock ticks.
        #expect(
            startedAt >= started.addingTimeInterval(-2) && startedAt <= spawned.addingTimeInterval(2),
            "started \(startedAt), spawned between \(started) and \(spawned)")
        #expect(ProcessIdentity.carriers(of: [key, absent])[absent] == nil)
        #expect(ProcessIdentity.processGroups(carrying: [key]) == [key: [child.pid]])
        #expect(ProcessIdentity.processGroup(of: child.pid) == child.pid)
    }

    @Test("carriers(of:) no longer finds a carrier once it has exited and been reaped")
    func exitedCarrierGone() throws {
        let key = Self.uniqueKey()
        let child = try Self.sleeper(key)
        #expect(Poll.blockingUntil(within: .seconds(5)) { ProcessIdentity.carriers(of: [key])[key]?.count == 1 })
        child.terminate(signal: SIGKILL)
        #expect(ProcessIdentity.carriers(of: [key]).isEmpty)
    }

    @Test("carriers(of:) with no keys finds nothing, and a process without the variable is never found")
    func noKeys() throws {
        #expect(ProcessIdentity.carriers(of: []).isEmpty)
        let child = try ChildProcess(
            path: "/bin/sleep", arguments: ["30"], environment: ["SLUICE_RUN_KEY_X": "k"], stdout: .null, stderr: .null)
        defer { child.terminate(signal: SIGKILL) }
        #expect(ProcessIdentity.carriers(of: ["k"]).isEmpty)
    }

    @Test("A key that differs only by canonical equivalence (K and U+212A KELVIN SIGN) does not find the carrier")
    func canonicalEquivalentKeyNotFound() throws {
        let key = Self.uniqueKey(task: "Kelvin")
        let kelvin = key.replacingOccurrences(of: "/Kelvin/", with: "/\u{212A}elvin/")
        #expect(key == kelvin)  // Swift's String equality says these are the same...
        #expect(!key.utf8.elementsEqual(kelvin.utf8))  // ...but their bytes differ
        let child = try Self.sleeper(key)
        defer { child.terminate(signal: SIGKILL) }
        #expect(Poll.blockingUntil(within: .seconds(5)) { ProcessIdentity.carriers(of: [key])[key]?.first?.pid == child.pid })
        #expect(ProcessIdentity.carriers(of: [kelvin]).isEmpty)
        // A prefix or an extension of the key is not the key either.
        #expect(ProcessIdentity.carriers(of: [String(key.dropLast())]).isEmpty)
        #expect(ProcessIdentity.carriers(of: [key + "0"]).isEmpty)
    }

    @Test("A process started with setsid is a session leader; the wrapper that forked it is not")
    func setsidLeader() throws {
        let key = Self.uniqueKey()
        // ChildProcess makes its child a process-group leader, so setsid(1) must fork (setsid(2)
        // fails for a group leader); --wait keeps the wrapper as the new session's parent.
        let wrapper = try Self.sleeper(key, path: "/usr/bin/setsid", arguments: ["--wait", "/bin/sleep", "30"])
        defer { wrapper.terminate(signal: SIGKILL) }
        // Both processes, once the child has called setsid(2): between setsid(1)'s fork and that
        // call the child is still in the wrapper's session (seen under ThreadSanitizer in CI).
        let carriers = try #require(
            Poll.blockingValue(within: .seconds(5)) {
                ProcessIdentity.carriers(of: [key])[key].flatMap { $0.count == 2 && $0.contains(where: \.isSessionLeader) ? $0 : nil }
            })
        let leader = try #require(carriers.first { $0.isSessionLeader })
        // It leads a session but was not started with `--run-key KEY`: not a supervisor.
        #expect(!leader.isSupervisor)
        defer { kill(leader.pid, SIGKILL) }
        #expect(leader.pid != wrapper.pid)
        #expect(leader.session == leader.pid)
        #expect(leader.processGroup == leader.pid)
        // The forked child leads its session from setsid(2) on, before it execs sleep.
        #expect(Poll.blockingUntil(within: .seconds(5)) { ProcessTable.commandLine(of: leader.pid) == ["/bin/sleep", "30"] })
        let other = try #require(carriers.first { !$0.isSessionLeader })
        #expect(other.pid == wrapper.pid)
        #expect(other.session == getsid(0))
    }

    @Test("A carrier described by hand is a session leader exactly when its session id is its pid")
    func sessionLeaderRule() {
        #expect(ProcessIdentity.Carrier(pid: 10, processGroup: 10, session: 10, startedAt: nil).isSessionLeader)
        #expect(!ProcessIdentity.Carrier(pid: 10, processGroup: 10, session: 9, startedAt: nil).isSessionLeader)
        #expect(!ProcessIdentity.Carrier(pid: 10, processGroup: 9, session: 9, startedAt: nil).isSessionLeader)
    }
}
