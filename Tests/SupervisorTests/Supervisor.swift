import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `sluice-supervisor` and the means to run it as Sluice will: `posix_spawn` with an
/// explicit environment and argv (bytes, not only UTF-8), every signal at its default disposition
/// and an empty mask unless a test asks otherwise, stdin from /dev/null, stderr into a file, and no
/// descriptor of the test process beyond 0, 1 and 2 unless a test hands one on deliberately.
enum Supervisor {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// `SLUICE_SUPERVISOR` if set; else the sibling of the test executable (`.build/<triple>/debug/`
    /// holds both), else `<package root>/.build/debug/sluice-supervisor`.
    static let path: String? = {
        if let explicit = ProcessInfo.processInfo.environment["SLUICE_SUPERVISOR"] { return explicit }
        var candidates: [String] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("sluice-supervisor").path)
        }
        // This file is <root>/Tests/SupervisorTests/Supervisor.swift.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/sluice-supervisor").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The binary's path, or a clear failure if it has not been built.
    static func binary() throws -> String {
        guard let path else {
            throw Missing(
                description:
                    "sluice-supervisor not found next to the test executable nor in .build/debug (run `swift build`, or set SLUICE_SUPERVISOR)"
            )
        }
        return path
    }

    /// `POSIX_SPAWN_SETSID` (glibc declares it only under _GNU_SOURCE, which Swift's Glibc lacks).
    static let spawnSetsid: Int32 = 0x80

    /// Starts the supervisor with `arguments` (after argv[0]).
    static func start(_ arguments: [[UInt8]], environment: [[UInt8]], options: SpawnOptions = .init(), stderrPath: String) throws -> Running
    {
        let binary = try self.binary()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, options.stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for (target, source) in options.inherited { posix_spawn_file_actions_adddup2(&actions, source, target) }
        // Nothing else of the test process (other tests' files) reaches the supervisor; glibc
        // ignores a close action for a descriptor closed in the meantime.
        for fd in ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap({ Int32($0) })
        where fd > 2 && options.inherited[fd] == nil {
            posix_spawn_file_actions_addclose(&actions, fd)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in options.blocked { sigaddset(&mask, signal) }
        posix_spawnattr_setsigmask(&attributes, &mask)
        // As Sluice does: every bit set, so that glibc resets its internal signals 32 and 33 too.
        // With `ignoreInternalSignals`, sigfillset's set, which leaves them out: glibc's
        // posix_spawn then starts the supervisor with 32 and 33 ignored.
        var defaults = sigset_t()
        if options.ignoreInternalSignals {
            sigfillset(&defaults)
        } else {
            withUnsafeMutableBytes(of: &defaults) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0xff) }
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if options.newSession { flags |= Self.spawnSetsid }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = (options.wrapper.map { Array($0.utf8) } + [Array(binary.utf8)] + arguments).map(Self.cString) + [nil]
        let envp = environment.map(Self.cString) + [nil]
        defer { (argv + envp).forEach { $0?.deallocate() } }
        let program = options.wrapper.first ?? binary
        var pid: pid_t = 0
        let result = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        guard result == 0 else { throw Missing(description: "posix_spawn \(program): \(String(cString: strerror(result)))") }
        return Running(pid: pid, stderrPath: stderrPath)
    }

    /// A NUL-terminated copy of `bytes` (freed by the caller with `deallocate`).
    private static func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[bytes.count] = 0
        return pointer
    }

    /// Runs `invocation` to the end and reads what it left: its record in the journal (nil if
    /// none), the log, and how the supervisor exited. Checks the journal on the way (see `Result`).
    static func run(
        _ invocation: Invocation, options: SpawnOptions = .init(), limit: Duration = .seconds(20),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Result {
        let running = try self.start(
            invocation.arguments, environment: invocation.environment, options: options, stderrPath: invocation.stderrPath)
        let exit = running.wait(limit: limit)
        #expect(!exit.killedAfterLimit, "the supervisor was still running after \(limit)", sourceLocation: sourceLocation)
        return Result(exit: exit, invocation: invocation, sourceLocation: sourceLocation)
    }

    /// What a finished supervisor left behind.
    struct Result {
        let exit: Exit
        /// The journal as a reader sees it; nil if there is no journal file.
        let journal: Journal?
        /// The journal's one complete record for the invocation's run key.
        let status: StatusRecord?
        let log: [UInt8]

        /// Reads what the supervisor of `invocation` left, and checks that a supervisor which
        /// exited 0 appended exactly one complete record for its run key (any other exit: none),
        /// that every complete record in the journal has the documented format, and that the
        /// directory of log and journal (`Invocation.jobDirectory`) holds nothing else.
        init(exit: Exit, invocation: Invocation, sourceLocation: SourceLocation) {
            self.exit = exit
            self.journal = Journal(path: invocation.journalPath)
            self.log = Files.bytes(invocation.logPath)
            let records = self.journal?.records(for: invocation.runKey) ?? []
            self.status = records.first
            let expected = exit.code == 0 ? 1 : 0
            #expect(
                records.count == expected,
                "\(records.count) complete records for \(invocation.runKey), expected \(expected); supervisor \(exit); journal:\n\(self.journal?.text ?? "none")",
                sourceLocation: sourceLocation)
            for record in self.journal?.records ?? [] {
                #expect(record.problems.isEmpty, "\(record.problems)\n\(record.text)", sourceLocation: sourceLocation)
            }
            let stray = Files.names(in: invocation.jobDirectory).subtracting(invocation.ownFileNames)
            #expect(stray.isEmpty, "stray files beside the log and the journal: \(stray.sorted())", sourceLocation: sourceLocation)
        }

        /// The record for the run key, or a failure saying there is none.
        func requireStatus(sourceLocation: SourceLocation = #_sourceLocation) throws -> StatusRecord {
            try #require(self.status, "no record for the run key in the journal; supervisor \(self.exit)", sourceLocation: sourceLocation)
        }

        var logText: String { String(decoding: self.log, as: UTF8.self) }
    }
}

/// How the test starts the supervisor, beyond its arguments and environment.
struct SpawnOptions {
    /// Start it in a new session (`POSIX_SPAWN_SETSID`), as Sluice does; off by default, so that
    /// the supervisor's own `setsid()` is exercised.
    var newSession = false
    /// Signals blocked in the supervisor when it starts.
    var blocked: [Int32] = []
    /// Start it with glibc's internal signals 32 and 33 ignored (see `Supervisor.start`).
    var ignoreInternalSignals = false
    /// Descriptors handed on without close-on-exec: target number → this process's descriptor.
    var inherited: [Int32: Int32] = [:]
    /// The file the supervisor reads as stdin; /dev/null if nil.
    var stdin: String? = nil
    /// A program (and its first arguments) that execs the supervisor, e.g. a shell that ignores
    /// some signals first; the supervisor's path follows them.
    var wrapper: [String] = []
}

/// A supervisor the test started.
struct Running {
    let pid: pid_t
    let stderrPath: String
    let started = ContinuousClock.now

    /// Sends `signal` to the supervisor alone.
    func signal(_ signal: Int32) { kill(self.pid, signal) }

    /// Whether it has exited (without reaping it, so its pid stays reserved).
    var hasExited: Bool {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(self.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 { return info.si_signo == SIGCHLD }
            if errno != EINTR { return true }
        }
    }

    /// Waits for it to exit, killing it after `limit`, and reaps it.
    func wait(limit: Duration = .seconds(20)) -> Exit {
        let exited = Poll.blockingUntil(within: limit, every: .milliseconds(5)) { self.hasExited }
        if !exited { kill(self.pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) == -1 && errno == EINTR {}
        let elapsed = ContinuousClock.now - self.started
        let signal = status & 0x7f
        return Exit(
            code: signal == 0 ? (status >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal, stderr: Files.text(self.stderrPath),
            elapsed: elapsed, killedAfterLimit: !exited)
    }
}

/// How the supervisor process ended.
struct Exit: CustomStringConvertible {
    let code: Int32?
    let signal: Int32?
    let stderr: String
    let elapsed: Duration
    let killedAfterLimit: Bool

    var description: String {
        let how = self.code.map { "exited \($0)" } ?? "killed by signal \(self.signal ?? 0)"
        return "\(how) after \(self.elapsed); stderr: \(self.stderr)"
    }
}

/// One command line for the supervisor. The log and the journal default to `task.log` and
/// `status.journal` in `<dir>/job`, as Sluice keeps them in `<logdir>/<job>/`; the task runs in `dir`.
struct Invocation {
    var runKey = "9f1c2a3b4c5d6e7f/42/extract/1"
    var logPath: String
    var journalPath: String
    var stderrPath: String
    /// The directory the supervisor may leave files in: only the log and the journal (whichever
    /// of them is in it). `Result` checks that nothing else is there.
    var jobDirectory: String
    var head = 1000
    var tail = 1000
    var grace = "5"
    var timeout: String? = nil
    var directory: String
    var program: String
    var argv: [[UInt8]]
    var environment: [[UInt8]] = [Array("PATH=/usr/bin:/bin".utf8)]

    /// `program` with `argv` (argv[0] included) in `dir`, logging to `job/task.log`, appending its
    /// outcome to `job/status.journal` (`job` is created if need be).
    init(_ dir: TemporaryDirectory, program: String, argv: [String]) {
        self.jobDirectory = dir.file("job")
        mkdir(self.jobDirectory, 0o755)  // EEXIST when another invocation in `dir` made it
        self.logPath = dir.file("job/task.log")
        self.journalPath = dir.file("job/status.journal")
        self.stderrPath = dir.file("supervisor.stderr")
        self.directory = dir.path
        self.program = program
        self.argv = argv.map { Array($0.utf8) }
    }

    /// `/bin/sh -c script` in `dir`.
    static func shell(_ script: String, in dir: TemporaryDirectory, extra: [String] = []) -> Invocation {
        Invocation(dir, program: "/bin/sh", argv: ["sh", "-c", script] + extra)
    }

    var arguments: [[UInt8]] {
        var list: [String] = [
            "--run-key", self.runKey, "--log", self.logPath, "--journal", self.journalPath, "--head", "\(self.head)", "--tail",
            "\(self.tail)", "--grace", self.grace,
        ]
        if let timeout = self.timeout { list += ["--timeout", timeout] }
        list += ["--cwd", self.directory, "--", self.program]
        return list.map { Array($0.utf8) } + self.argv
    }

    /// The names of the log and the journal, those of them that are in `jobDirectory`.
    var ownFileNames: Set<String> {
        Set(
            [self.logPath, self.journalPath].compactMap { path in
                let url = URL(fileURLWithPath: path)
                return url.deletingLastPathComponent().standardized.path == URL(fileURLWithPath: self.jobDirectory).standardized.path
                    ? url.lastPathComponent : nil
            })
    }
}

/// A status journal read by the reader rule of docs/supervisor.md ("The status journal"), which
/// Sluice's reader implements too: lines are the pieces ending in "\n" (bytes after the last one
/// are an unfinished line, ignored); `version=1` opens a record (dropping one already open: torn);
/// an empty line drops the open record; `end` completes the open record (skipped if none is
/// open); any other line joins the open record (skipped if none is open). A record still open at
/// the end is not (yet) a record.
struct Journal {
    let bytes: [UInt8]
    /// The complete records, in journal order.
    let records: [StatusRecord]
    /// Whether the journal ends inside a record or line: one being written, or torn.
    let endsUnfinished: Bool

    init(bytes: [UInt8]) {
        self.bytes = bytes
        var records: [StatusRecord] = []
        var open: [UInt8]? = nil
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[start..<newline]
            start = newline + 1
            if line.elementsEqual("version=1".utf8) {
                open = Array(line) + [UInt8(ascii: "\n")]
            } else if line.isEmpty {
                open = nil
            } else if line.elementsEqual("end".utf8) {
                if let body = open { records.append(StatusRecord(body: body)) }
                open = nil
            } else if open != nil {
                open! += line + [UInt8(ascii: "\n")]
            }
        }
        self.records = records
        self.endsUnfinished = open != nil || start != bytes.endIndex
    }

    /// The journal at `path`; nil if it cannot be read (there is none, or it is a directory).
    init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.init(bytes: [UInt8](data))
    }

    var text: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Every complete record for `runKey`, in journal order (the first one counts).
    func records(for runKey: String) -> [StatusRecord] { self.records.filter { $0["run_key"] == runKey } }
}

/// A parsed status record (a complete record's body, `version=1` to the line before `end`), and
/// what is wrong with its format.
struct StatusRecord {
    /// The documented keys, in their documented order.
    static let order = [
        "version", "run_key", "task_pid", "started_at_ms", "finished_at_ms", "exit_status", "exit_signal", "timed_out", "stop_signal",
        "log_bytes", "log_omitted", "log_failure", "spawn_error", "spawn_errno",
    ]
    /// The keys every record has.
    static let always: Set = ["version", "run_key", "started_at_ms", "finished_at_ms", "log_bytes", "log_omitted"]

    /// The body: its lines, each followed by "\n" (as the old status file held them).
    let text: String
    let pairs: [(key: String, value: String)]

    init(body: [UInt8]) {
        self.text = String(decoding: body, as: UTF8.self)
        self.pairs = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map { line in
            let parts = line.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            return (String(decoding: parts[0], as: UTF8.self), parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : "")
        }
    }

    var keys: [String] { self.pairs.map(\.key) }

    subscript(key: String) -> String? { self.pairs.first { $0.key == key }?.value }

    func int(_ key: String) -> Int64? { self[key].flatMap { Int64($0) } }

    /// Everything that breaks the documented format.
    var problems: [String] {
        var problems: [String] = []
        if !self.text.hasSuffix("\n") { problems.append("does not end with a newline") }
        for (key, _) in self.pairs where !Self.order.contains(key) { problems.append("unknown key \(key)") }
        let known = self.keys.filter { Self.order.contains($0) }
        if known != Self.order.filter({ known.contains($0) }) || Set(known).count != known.count {
            problems.append("keys out of order or repeated: \(self.keys)")
        }
        for key in Self.always where self[key] == nil { problems.append("no \(key)") }
        if self["version"] != "1" { problems.append("version is not 1") }
        if (self["spawn_error"] == nil) != (self["spawn_errno"] == nil) { problems.append("spawn_error without spawn_errno or back") }
        return problems
    }
}

/// Small file helpers.
enum Files {
    static func bytes(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? [] }

    static func text(_ path: String) -> String { String(decoding: self.bytes(path), as: UTF8.self) }

    static func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The names in directory `path` (none if it cannot be listed).
    static func names(in path: String) -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []) }

    /// The permission bits of `path`.
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }
}

/// Expected logs.
enum Logs {
    /// What the log must hold for `output` under `head` and `tail`.
    static func capped(_ output: [UInt8], head: Int, tail: Int) -> [UInt8] {
        guard output.count > head + tail else { return output }
        let omitted = output.count - head - tail
        return Array(output.prefix(head)) + Array("\n[sluice: \(omitted) bytes omitted]\n".utf8) + Array(output.suffix(tail))
    }

    /// Numbered lines "1\n" … "count\n", as `seq 1 count` prints them.
    static func numberedLines(_ count: Int) -> [UInt8] { Array((1...count).map { "\($0)\n" }.joined().utf8) }

    /// Every byte value, ANSI escapes, NULs, invalid UTF-8 (lone continuation byte, overlong
    /// encoding, truncated sequence, surrogate), CR without LF, and no final newline.
    static let hostile: [UInt8] =
        Array(0...255) + Array("\u{1B}[31mred\u{1B}[0m\u{1B}]0;title\u{07}\r".utf8) + [
            0, 0, 0x80, 0xC0, 0xAF, 0xE2, 0x82, 0xED, 0xA0, 0x80,
        ]
        + Array("ü 🚀".utf8) + [0xF0, 0x9F]
}

/// Reading /proc/<pid>/status masks.
enum SignalMasks {
    /// The bit of `signal` in a /proc/<pid>/status mask.
    static func bit(_ signal: Int32) -> UInt64 { 1 << UInt64(signal - 1) }

    /// The hexadecimal mask on the line `name:` of a /proc/<pid>/status text.
    static func mask(_ name: String, in status: Substring) -> UInt64? {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .flatMap { UInt64($0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
    }
}
