import Foundation
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized, .timeLimit(.minutes(1))) struct TaskProcessTests {
    static let environment = ["PATH": "/usr/bin:/bin"]

    private static func log(_ dir: TemporaryDirectory) -> String { dir.file("task.log") }

    private static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Kills the group of `pid` and reaps it, for cleanup after a failed expectation.
    private static func reap(_ pid: Int32) {
        TaskProcess.signalGroup(pid, SIGKILL)
        _ = TaskProcess.wait(pid)
    }

    @Test("wait returns the exit status and the log receives stdout and stderr")
    func exitStatusAndLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pid = try TaskProcess.spawn(
            argv: ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], environment: Self.environment, workingDirectory: dir.path,
            logPath: Self.log(dir))
        #expect(pid > 1)
        #expect(TaskProcess.wait(pid) == 3)
        #expect(Self.read(Self.log(dir)) == "out\nerr\n")
        let info = try FileManager.default.attributesOfItem(atPath: Self.log(dir))
        #expect((info[.posixPermissions] as? NSNumber)?.intValue == 0o640 & ~Int(Self.umask()))
    }

    private static func umask() -> mode_t {
        let old = Glibc.umask(0o022)
        Glibc.umask(old)
        return old
    }

    @Test("The log file is appended to, not truncated")
    func logAppends() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: Self.log(dir)))
        let pid = try TaskProcess.spawn(
            argv: ["/bin/echo", "later"], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        #expect(TaskProcess.wait(pid) == 0)
        #expect(Self.read(Self.log(dir)) == "earlier\nlater\n")
    }

    @Test("Arguments arrive as separate, unchanged argv elements and stdin is empty")
    func argvUnchanged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let hostile = ["a b", "c'd", "\"e\"", "; rm -rf /", "$(id)", "", "ü 🚀"]
        let pid = try TaskProcess.spawn(
            argv: ["/bin/sh", "-c", "printf '%s|' \"$@\"; printf '%s' \"$#\"; cat", "sh"] + hostile, environment: Self.environment,
            workingDirectory: dir.path, logPath: Self.log(dir))
        #expect(TaskProcess.wait(pid) == 0)
        #expect(Self.read(Self.log(dir)) == hostile.map { $0 + "|" }.joined() + "\(hostile.count)")
    }

    @Test("The child leads its own process group")
    func ownProcessGroup() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pid = try TaskProcess.spawn(
            argv: ["sleep", "30"], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        defer { Self.reap(pid) }
        let status = try #require(ProcessTable.status(of: pid))
        #expect(status.processGroup == pid)
        #expect(status.processGroup != getpgrp())
    }

    @Test("SIGTERM reaches the child even when the spawning thread blocks it")
    func sigtermNotBlocked() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // This test function is synchronous, so it stays on one thread between block and restore.
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGTERM)
        var previous = sigset_t()
        #expect(pthread_sigmask(SIG_BLOCK, &block, &previous) == 0)
        let spawned = Result { () throws(TaskProcess.SpawnError) -> Int32 in
            try TaskProcess.spawn(argv: ["sleep", "30"], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        let pid = try spawned.get()
        // The child's own mask, from /proc: SigBlk must not contain SIGTERM (bit 15).
        let status = Self.read("/proc/\(pid)/status")
        let sigBlk = status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
            .flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
        #expect(sigBlk.map { $0 & (1 << (UInt64(SIGTERM) - 1)) } == 0)
        #expect(TaskProcess.signalGroup(pid, SIGTERM))
        let code = TaskProcess.wait(pid)
        if code != 128 + SIGTERM { Self.reap(pid) }
        #expect(code == 128 + SIGTERM)
    }

    @Test("signalGroup reaches the child's own children")
    func signalGroupReachesGrandchildren() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pid = try TaskProcess.spawn(
            argv: ["/bin/sh", "-c", "sleep 30 & sleep 30; wait"], environment: Self.environment, workingDirectory: dir.path,
            logPath: Self.log(dir))
        // The shell and both sleeps share the group.
        let started = Poll.blockingUntil(within: .seconds(10)) { ProcessTable.livingMembers(ofProcessGroup: pid).count >= 3 }
        #expect(started, "members: \(ProcessTable.livingMembers(ofProcessGroup: pid))")
        let members = ProcessTable.livingMembers(ofProcessGroup: pid)
        #expect(TaskProcess.signalGroup(pid, SIGTERM))
        #expect(TaskProcess.wait(pid) == 128 + SIGTERM)
        #expect(Poll.blockingUntil(within: .seconds(10)) { members.allSatisfy { ProcessTable.isGone($0) } })
        #expect(ProcessTable.livingMembers(ofProcessGroup: pid).isEmpty)
    }

    @Test("signalGroup refuses process groups 0 and 1 and negative ids, and reports a vanished group")
    func signalGroupRefuses() throws {
        // Signal 0 only checks permission, so a missing guard would make these true, not kill anything.
        #expect(TaskProcess.signalGroup(0, 0) == false)
        #expect(TaskProcess.signalGroup(1, 0) == false)
        #expect(TaskProcess.signalGroup(-1, 0) == false)
        #expect(TaskProcess.signalGroup(-getpgrp(), 0) == false)
        #expect(TaskProcess.signalGroup(try ProcessTable.deadProcessID(), 0) == false)
    }

    @Test("A program that is not in PATH is a SpawnError naming it")
    func notFound() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(
                argv: ["sluice-no-such-program"], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        }
        #expect(error?.reason.contains("sluice-no-such-program") == true)
        // PATH comes from the task's environment, not from this process.
        let emptyPath = #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(
                argv: ["sh", "-c", "true"], environment: ["PATH": dir.path], workingDirectory: dir.path, logPath: Self.log(dir))
        }
        #expect(emptyPath?.reason.contains("sh") == true)
        // A directory of that name in PATH is not a program.
        try FileManager.default.createDirectory(atPath: dir.file("bin/tool"), withIntermediateDirectories: true)
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(
                argv: ["tool"], environment: ["PATH": dir.file("bin")], workingDirectory: dir.path, logPath: Self.log(dir))
        }
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(argv: [], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        }
    }

    @Test("A program without an execute bit, a missing directory or an unwritable log is a SpawnError")
    func otherSpawnFailures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let script = dir.file("script.sh")
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: script))
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(argv: [script], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        }
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(
                argv: ["/bin/true"], environment: Self.environment, workingDirectory: dir.file("missing"), logPath: Self.log(dir))
        }
        #expect(throws: TaskProcess.SpawnError.self) {
            try TaskProcess.spawn(
                argv: ["/bin/true"], environment: Self.environment, workingDirectory: dir.path, logPath: dir.file("missing/task.log"))
        }
    }

    @Test("A relative program path is resolved against the working directory, which the child runs in")
    func relativeProgram() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("bin"), withIntermediateDirectories: true)
        let script = dir.file("bin/hello")
        try Data("#!/bin/sh\necho \"hello $1\"\npwd\n".utf8).write(to: URL(fileURLWithPath: script))
        chmod(script, 0o755)
        for program in ["./bin/hello", "bin/hello"] {
            let log = dir.file("\(program.count).log")
            let pid = try TaskProcess.spawn(
                argv: [program, "world"], environment: Self.environment, workingDirectory: dir.path, logPath: log)
            #expect(TaskProcess.wait(pid) == 0)
            let real = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
            #expect(Self.read(log) == "hello world\n\(real)\n" || Self.read(log) == "hello world\n\(dir.path)\n", "\(Self.read(log))")
        }
    }

    @Test("The environment is exactly the one given")
    func exactEnvironment() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let environment = ["PATH": "/usr/bin:/bin", "A": "1", "SPACED": "x y 'z'", "EMPTY": "", "UNI": "🚀"]
        let pid = try TaskProcess.spawn(
            argv: ["/usr/bin/env"], environment: environment, workingDirectory: dir.path, logPath: Self.log(dir))
        #expect(TaskProcess.wait(pid) == 0)
        let lines = Self.read(Self.log(dir)).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.sorted() == environment.map { "\($0.key)=\($0.value)" }.sorted())
    }

    @Test("The child inherits no file descriptor above stderr")
    func noInheritedDescriptors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let leaked = dir.file("leaked.txt")
        #expect(FileManager.default.createFile(atPath: leaked, contents: Data("x".utf8)))
        // Opened without O_CLOEXEC, like libfcgi's accepted connections.
        let fd = open(leaked, O_RDONLY)
        try #require(fd >= 3)
        defer { close(fd) }
        let pid = try TaskProcess.spawn(
            argv: ["/bin/ls", "-l", "/proc/self/fd/"], environment: Self.environment, workingDirectory: dir.path, logPath: Self.log(dir))
        #expect(TaskProcess.wait(pid) == 0)
        let output = Self.read(Self.log(dir))
        // "lrwx------ 1 u g 64 date 1 -> /path": fd number before "->", target after it.
        var descriptors: [Int: String] = [:]
        for line in output.split(separator: "\n") where line.contains(" -> ") {
            let parts = line.components(separatedBy: " -> ")
            if let number = parts[0].split(separator: " ").last.flatMap({ Int($0) }) { descriptors[number] = parts[1] }
        }
        #expect(descriptors[0] == "/dev/null")
        #expect(descriptors[1] == Self.log(dir))
        #expect(descriptors[2] == Self.log(dir))
        #expect(!output.contains(leaked))
        // Anything else is the directory ls opened itself to list /proc/self/fd.
        let others = descriptors.filter { $0.key > 2 }
        #expect(others.count <= 1, "\(output)")
        #expect(others.values.allSatisfy { $0.hasPrefix("/proc/") }, "\(output)")
    }
}
