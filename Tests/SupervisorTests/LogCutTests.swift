import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A log that cannot be written to the end (a full disk) is never cut silently: the file says
/// where it was cut, and the status record says why (ported from WorkflowTests/LogCutTests).
@Suite("Logs cut by a full disk", .timeLimit(.minutes(1)))
struct LogCutTests {
    static let noSpace = "pwrite: No space left on device (errno 28)"

    @Test("Writing to a device that is always full: log_failure names pwrite and ENOSPC, the task's exit status stands")
    func deviceFull() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("echo hello; head -c 100000 /dev/zero; exit 6", in: dir)
        invocation.logPath = "/dev/full"
        let result = try Supervisor.run(invocation)
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "6")
        #expect(status["log_failure"] == Self.noSpace, "\(status.text)")
        #expect(status["log_bytes"] == "100006")
        #expect(status["log_omitted"] == "98006")
    }

    /// Runs `script` with its log on a 64 KiB tmpfs (the journal outside it).
    private static func onFullFileSystem(_ script: String, head: Int, tail: Int) throws -> (status: StatusRecord, log: [UInt8]) {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let logs = dir.file("logs")
        try Tmpfs.mount(at: logs, size: "64k")
        defer { Tmpfs.unmount(logs) }
        var invocation = Invocation.shell(script, in: dir)
        invocation.logPath = logs + "/task.log"
        invocation.head = head
        invocation.tail = tail
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        return (try result.requireStatus(), result.log)
    }

    @Test(
        "On a full file system while writing the head: the cut marker ends the log, log_failure says why",
        .enabled(if: Tmpfs.canMount, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func fullWhileWritingHead() throws {
        // 200 KiB of output into a 64 KiB file system, with a 1 MiB head.
        let (status, log) = try Self.onFullFileSystem("yes x | head -c 204800; echo done", head: 1 << 20, tail: 1 << 20)
        #expect(status["exit_status"] == "0")
        #expect(status["log_failure"] == Self.noSpace, "\(status.text)")
        #expect(status["log_bytes"] == "204805")
        #expect(status["log_omitted"] == "0")
        let marker = Array("\n[sluice: log cut here: \(Self.noSpace)]\n".utf8)
        #expect(log.count <= 64 * 1024)
        #expect(log.count > marker.count)
        #expect(Array(log.suffix(marker.count)) == marker, "\(String(decoding: log.suffix(120), as: UTF8.self))")
        // Before the marker: the output as it was, unchanged.
        let before = log.dropLast(marker.count)
        #expect(before.allSatisfy { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "\n") })
        #expect(before.first == UInt8(ascii: "x"))
    }

    @Test(
        "On a full file system while rewriting marker and tail: the cut marker ends the log, log_failure says why",
        .enabled(if: Tmpfs.canMount, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func fullWhileRewritingTail() throws {
        // No head, a 32 KiB tail. The first 32 KiB are appended in place (the task waits until
        // they are in the file), then the task fills the file system, and only then prints the
        // rest, which is counted and kept in memory. Every rewrite (marker + tail from offset 0)
        // then needs one page more than the in-place bytes took, and fails there.
        let script = """
            head -c 32768 /dev/zero
            while [ "$(stat -c %s logs/task.log)" -lt 32768 ]; do sleep 0.01; done
            cat /dev/zero > logs/filler 2>/dev/null
            head -c 67232 /dev/zero
            exit 3
            """
        let (status, log) = try Self.onFullFileSystem(script, head: 0, tail: 32768)
        #expect(status["exit_status"] == "3")
        #expect(status["log_failure"] == Self.noSpace, "\(status.text)")
        #expect(status["log_bytes"] == "100000")
        #expect(status["log_omitted"] == "67232")
        let omitted = Array("\n[sluice: 67232 bytes omitted]\n".utf8)
        let marker = Array("\n[sluice: log cut here: \(Self.noSpace)]\n".utf8)
        #expect(Array(log.prefix(omitted.count)) == omitted, "\(String(decoding: log.prefix(120), as: UTF8.self))")
        #expect(Array(log.suffix(marker.count)) == marker, "\(String(decoding: log.suffix(120), as: UTF8.self))")
        #expect(log.count < omitted.count + 32768)
        #expect(log.dropFirst(omitted.count).dropLast(marker.count).allSatisfy { $0 == 0 })
    }
}
