import Foundation
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SupervisorStatusTests {
    /// The example from docs/supervisor.md.
    static let example = """
        version=1
        run_key=9f1c2a3b4c5d6e7f/42/extract/1
        task_pid=81234
        started_at_ms=1796300000123
        finished_at_ms=1796300004567
        exit_status=0
        log_bytes=1834
        log_omitted=0

        """

    /// The lines every status has, with `outcome` (lines) where the documented order puts it.
    static func lines(_ outcome: [String] = ["exit_status=0"], tail: [String] = []) -> [String] {
        ["version=1", "run_key=k/1/t/1", "started_at_ms=1000", "finished_at_ms=2000"] + outcome + ["log_bytes=5", "log_omitted=0"] + tail
    }

    static func text(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }

    static func parse(_ text: String) throws(SupervisorStatus.FormatError) -> SupervisorStatus {
        try SupervisorStatus(parsing: Array(text.utf8))
    }

    /// Why `bytes` is refused, or nil if it is accepted.
    static func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try SupervisorStatus(parsing: bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    static func refusal(_ text: String) -> String? { self.refusal(Array(text.utf8)) }

    // MARK: - Valid

    @Test("The documented example parses into every field")
    func documentedExample() throws {
        let status = try Self.parse(Self.example)
        #expect(status.runKey == "9f1c2a3b4c5d6e7f/42/extract/1")
        #expect(status.taskPID == 81234)
        #expect(status.startedAt == Date(timeIntervalSince1970: 1_796_300_000.123))
        #expect(status.finishedAt == Date(timeIntervalSince1970: 1_796_300_004.567))
        #expect(status.exitStatus == 0)
        #expect(status.exitSignal == nil)
        #expect(status.exitCode == 0)
        #expect(!status.timedOut)
        #expect(status.stopSignal == nil)
        #expect(status.logBytes == 1834)
        #expect(status.logOmitted == 0)
        #expect(status.logFailure == nil)
        #expect(status.spawnStep == nil)
        #expect(status.spawnErrno == nil)
    }

    @Test("A task killed by a signal after a timeout and a stop signal, with a log failure, parses")
    func signalledWithOptionalKeys() throws {
        let status = try Self.parse(
            Self.text(
                Self.lines(["task_pid=12", "exit_signal=9", "timed_out=1", "stop_signal=15"], tail: ["log_failure=pwrite: x=y (errno 28)"]))
        )
        #expect(status.taskPID == 12)
        #expect(status.exitStatus == nil)
        #expect(status.exitSignal == 9)
        #expect(status.exitCode == 137)
        #expect(status.timedOut)
        #expect(status.stopSignal == 15)
        // Only the first '=' separates key from value.
        #expect(status.logFailure == "pwrite: x=y (errno 28)")
    }

    @Test("A task that could not start parses with its step and errno and no exit code")
    func spawnError() throws {
        let status = try Self.parse(Self.text(Self.lines([], tail: ["spawn_error=open /dev/null", "spawn_errno=13"])))
        #expect(status.spawnStep == "open /dev/null")
        #expect(status.spawnErrno == 13)
        #expect(status.exitStatus == nil && status.exitSignal == nil)
        #expect(status.exitCode == nil)
        #expect(status.taskPID == nil)
    }

    @Test("Optional keys may be left out, and an empty log_failure or run_key value is kept as empty")
    func optionalKeysAbsent() throws {
        let status = try Self.parse(
            Self.text([
                "version=1", "run_key=", "started_at_ms=0", "finished_at_ms=0", "exit_status=255", "log_bytes=0", "log_omitted=0",
                "log_failure=",
            ]))
        #expect(status.runKey == "")
        #expect(status.taskPID == nil)
        #expect(status.exitCode == 255)
        #expect(status.logFailure == "")
        #expect(!status.timedOut)
    }

    @Test("Large counters and non-ASCII UTF-8 values are read exactly")
    func largeValues() throws {
        let status = try Self.parse(
            Self.text([
                "version=1", "run_key=ab/1/\u{212A}elvin/2", "started_at_ms=1", "finished_at_ms=2", "exit_status=1",
                "log_bytes=9223372036854775807", "log_omitted=4294967296", "log_failure=caf\u{E9}",
            ]))
        #expect(status.runKey.utf8.elementsEqual("ab/1/\u{212A}elvin/2".utf8))
        #expect(status.logBytes == Int64.max)
        #expect(status.logOmitted == 4_294_967_296)
        #expect(status.logFailure?.utf8.elementsEqual("caf\u{E9}".utf8) == true)
    }

    @Test("The two times may be negative (a clock set before 1970); the outcome still parses")
    func negativeTimes() throws {
        let status = try Self.parse(
            Self.text(Self.lines().map { $0.replacingOccurrences(of: "started_at_ms=1000", with: "started_at_ms=-1500") }))
        #expect(status.startedAt == Date(timeIntervalSince1970: -1.5))
        #expect(status.finishedAt == Date(timeIntervalSince1970: 2))
    }

    @Test("A status of exactly 64 KiB is accepted")
    func exactlyMaximumSize() throws {
        let base = Self.text(Self.lines(tail: ["log_failure="]))
        let padded = base.dropLast() + String(repeating: "x", count: 64 * 1024 - base.utf8.count) + "\n"
        #expect(padded.utf8.count == 64 * 1024)
        let status = try Self.parse(String(padded))
        #expect(status.logFailure?.count == 64 * 1024 - base.utf8.count)
    }

    // MARK: - Malformed

    @Test("A status without its final newline is refused as a torn write")
    func tornWrite() throws {
        #expect(Self.refusal(String(Self.example.dropLast())) == "does not end with a newline")
        // Cut in the middle of a line, and cut after any prefix at all.
        let bytes = Array(Self.example.utf8)
        for length in 0..<bytes.count {
            #expect(Self.refusal(Array(bytes[..<length])) != nil, "first \(length) bytes")
        }
        #expect(Self.refusal(bytes) == nil)
    }

    @Test("An unknown key is refused, including a known key in other case or with spaces")
    func unknownKey() {
        #expect(Self.refusal(Self.text(Self.lines(tail: ["exit_code=0"]))) == "unknown key exit_code")
        #expect(Self.refusal(Self.text(Self.lines(tail: ["Timed_out=1"]))) == "unknown key Timed_out")
        #expect(Self.refusal(Self.text(Self.lines(tail: ["timed_out =1"]))) == "unknown key timed_out ")
        #expect(Self.refusal(Self.text(Self.lines(tail: ["=1"]))) == "unknown key ")
    }

    @Test("A repeated key is refused, even with the same value")
    func repeatedKey() {
        #expect(Self.refusal(Self.text(Self.lines(tail: ["run_key=k/1/t/1"]))) == "repeated key run_key")
        #expect(Self.refusal(Self.text(Self.lines(["exit_status=0", "exit_status=1"]))) == "repeated key exit_status")
    }

    @Test("A line without '=' is refused, an empty line included")
    func lineWithoutEquals() {
        #expect(Self.refusal(Self.text(Self.lines(tail: ["timed_out"]))) == "line without '=': timed_out")
        #expect(Self.refusal(Self.text(Self.lines(tail: [""]))) != nil)
        #expect(Self.refusal(Self.example + "\n") != nil)
        #expect(Self.refusal("\n") != nil)
    }

    @Test("A version other than exactly 1, or none, is refused")
    func version() {
        var lines = Self.lines()
        for version in ["version=2", "version=0", "version=01", "version=", "version=1 "] {
            lines[0] = version
            #expect(Self.refusal(Self.text(lines)) != nil, "\(version)")
        }
        #expect(Self.refusal(Self.text(Array(Self.lines().dropFirst()))) == "version is missing, expected 1")
        lines[0] = "version=2"
        #expect(Self.refusal(Self.text(lines)) == "version is 2, expected 1")
    }

    @Test("A status without one of the always-present keys is refused")
    func requiredKeys() {
        for key in ["run_key", "started_at_ms", "finished_at_ms", "log_bytes", "log_omitted"] {
            let lines = Self.lines().filter { !$0.hasPrefix(key + "=") }
            #expect(Self.refusal(Self.text(lines)) == "\(key) missing", "\(key)")
        }
    }

    @Test(
        "Numbers that are not plain decimal digits are refused",
        arguments: ["abc", "12a", "", "+5", " 5", "5 ", "-", "1.5", "0x10", "1e3", "٣"])
    func notNumbers(value: String) {
        for key in ["task_pid", "started_at_ms", "finished_at_ms", "exit_status", "log_bytes", "log_omitted"] {
            let lines =
                Self.lines().filter { !$0.hasPrefix(key + "=") && !$0.hasPrefix("exit_status=") } + ["\(key)=\(value)"]
                + (key == "exit_status" ? [] : ["exit_status=0"])
            #expect(Self.refusal(Self.text(lines))?.hasPrefix("\(key) is not a number") == true, "\(key)=\(value)")
        }
    }

    @Test("Numbers too large for their field are refused")
    func overflow() {
        #expect(Self.refusal(Self.text(Self.lines(["task_pid=2147483648", "exit_status=0"]))) != nil)
        #expect(Self.refusal(Self.text(Self.lines(["exit_status=99999999999"]))) != nil)
        #expect(
            Self.refusal(Self.text(Self.lines(tail: ["log_failure="]).map { $0 == "log_bytes=5" ? "log_bytes=9223372036854775808" : $0 }))
                != nil)
    }

    @Test(
        "Negative values where the format has none (pids, statuses, signals, byte counts, errno) are refused",
        arguments: [
            ["task_pid=-1", "exit_status=0"], ["exit_status=-1"], ["exit_signal=-9"], ["exit_status=0", "stop_signal=-15"],
            ["exit_status=0", "timed_out=-1"],
        ])
    func negativeOutcomeValues(outcome: [String]) {
        #expect(Self.refusal(Self.text(Self.lines(outcome))) != nil, "\(outcome)")
    }

    @Test("Negative byte counts and a negative spawn errno are refused")
    func negativeCounts() {
        #expect(Self.refusal(Self.text(Self.lines().map { $0 == "log_bytes=5" ? "log_bytes=-5" : $0 })) != nil)
        #expect(Self.refusal(Self.text(Self.lines().map { $0 == "log_omitted=0" ? "log_omitted=-1" : $0 })) != nil)
        #expect(Self.refusal(Self.text(Self.lines([], tail: ["spawn_error=execve", "spawn_errno=-2"]))) != nil)
    }

    @Test("Both exit_status and exit_signal, or neither of them nor a spawn error, are refused")
    func outcomeCount() {
        let exactlyOne = "expected exactly one of exit_status, exit_signal and spawn_error"
        #expect(Self.refusal(Self.text(Self.lines(["exit_status=0", "exit_signal=9"]))) == exactlyOne)
        #expect(Self.refusal(Self.text(Self.lines([]))) == exactlyOne)
        #expect(Self.refusal(Self.text(Self.lines(["exit_status=0"], tail: ["spawn_error=execve", "spawn_errno=2"]))) == exactlyOne)
        #expect(Self.refusal(Self.text(Self.lines(["exit_signal=9"], tail: ["spawn_error=execve", "spawn_errno=2"]))) == exactlyOne)
    }

    @Test("spawn_error without spawn_errno, or spawn_errno without spawn_error, is refused")
    func spawnErrorPairs() {
        #expect(Self.refusal(Self.text(Self.lines([], tail: ["spawn_error=chdir"]))) == "spawn_error and spawn_errno come together")
        #expect(Self.refusal(Self.text(Self.lines(tail: ["spawn_errno=2"]))) == "spawn_error and spawn_errno come together")
    }

    @Test("A status larger than 64 KiB is refused, however well-formed")
    func oversized() {
        let base = Self.text(Self.lines(tail: ["log_failure="]))
        let padded = base.dropLast() + String(repeating: "x", count: 64 * 1024 - base.utf8.count + 1) + "\n"
        #expect(padded.utf8.count == 64 * 1024 + 1)
        #expect(Self.refusal(String(padded)) == "larger than 65536 bytes")
    }

    /// `text`'s bytes with the first "@@" replaced by `bytes`.
    static func substituting(_ text: String, _ bytes: [UInt8]) -> [UInt8] {
        let all = Array(text.utf8)
        let at = all.indices.first { all[$0...].starts(with: Array("@@".utf8)) }!
        return Array(all[..<at]) + bytes + Array(all[(at + 2)...])
    }

    @Test(
        "Bytes that are not UTF-8 in a value are refused",
        arguments: [
            Self.lines().map { $0.hasPrefix("run_key=") ? "run_key=ab/1/t@@/1" : $0 }, Self.lines(tail: ["log_failure=pwrite: @@"]),
            Self.lines([], tail: ["spawn_error=exec@@", "spawn_errno=2"]),
        ])
    func invalidUTF8InValue(lines: [String]) {
        let template = Self.text(lines)
        // The same file with valid bytes there is accepted: only the encoding is wrong.
        #expect(Self.refusal(Self.substituting(template, Array("ok".utf8))) == nil)
        #expect(Self.refusal(Self.substituting(template, Array("\u{E9}".utf8))) == nil)
        for bad: [UInt8] in [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x80]] {
            #expect(Self.refusal(Self.substituting(template, bad)) != nil, "\(bad) in \(template)")
        }
    }

    @Test("Bytes that are not UTF-8 in a key are refused")
    func invalidUTF8InKey() {
        #expect(Self.refusal(Array(Self.text(Self.lines()).utf8) + [0x6C, 0x6F, 0x67, 0xFF] + Array("=x\n".utf8)) != nil)
    }

    @Test("A refusal describes itself as a malformed supervisor status")
    func errorDescription() {
        #expect(SupervisorStatus.FormatError("repeated key x").description == "malformed supervisor status: repeated key x")
    }

    // MARK: - Files

    @Test("read(path:) returns nil when there is no status file yet")
    func readMissing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try SupervisorStatus.read(path: directory.file("status")) == nil)
        #expect(try SupervisorStatus.read(path: directory.file("no-such-directory/status")) == nil)
    }

    @Test("read(path:) parses a status file")
    func readValid() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("status", Self.example)
        #expect(try SupervisorStatus.read(path: path) == Self.parse(Self.example))
        #expect(try SupervisorStatus.read(path: path)?.logBytes == 1834)
    }

    @Test("read(path:) throws for a malformed, empty, oversized or torn status file")
    func readMalformed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (name, text) in [
            ("torn", String(Self.example.dropLast(3))), ("empty", ""), ("repeated", Self.example + "log_bytes=1\n"),
            ("huge", Self.text(Self.lines(tail: ["log_failure=" + String(repeating: "y", count: 100_000)]))),
        ] {
            let path = try directory.write(name, text)
            #expect(throws: SupervisorStatus.FormatError.self, "\(name)") { try SupervisorStatus.read(path: path) }
        }
    }

    @Test("read(path:) throws for a status path that exists but cannot be opened (a socket)")
    func readUnopenable() throws {
        // A unix socket exists but open(2) refuses it (ENXIO), even for root; the path must stay short.
        let directory = try TemporaryDirectory(prefix: "st", in: "/tmp")
        defer { directory.remove() }
        let path = directory.file("status")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.utf8.enumerated() { buffer[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(throws: SupervisorStatus.FormatError("cannot read \(path)")) { try SupervisorStatus.read(path: path) }
    }

    @Test("read(path:) throws for a status path that exists but cannot be read as a file")
    func readUnreadable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A directory where the status file should be (root may open any file, so mode 000 would not do).
        try FileManager.default.createDirectory(atPath: directory.file("status"), withIntermediateDirectories: false)
        #expect(throws: SupervisorStatus.FormatError.self) { try SupervisorStatus.read(path: directory.file("status")) }
    }
}
