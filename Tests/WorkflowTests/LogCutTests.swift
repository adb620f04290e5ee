import Foundation
import JobStore
import TestSupport
import Testing

@testable import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// A log that cannot be written to the end (a full disk) is never cut silently: the file says
/// where it was cut, the task's record says why, and Sluice's log says so.
@Suite("Logs cut by a full disk", .serialized)
struct LogCutTests {
    @Test("Writing to a device that is always full: the outcome names the failure, the task's exit status stands")
    func deviceFull() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let task = try TaskProcess.spawnPiped(
            argv: ["/bin/sh", "-c", "echo hello; head -c 100000 /dev/zero"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: dir.path)
        let outcome = TaskProcess.supervise(task, logPath: "/dev/full", limits: .init(headBytes: 1000, tailBytes: 1000))
        #expect(outcome.exitCode == 0)
        #expect(outcome.logFailure?.contains("No space left on device") == true, "\(String(describing: outcome.logFailure))")
        #expect(outcome.bytesWritten == 100_006)
    }

    @Test(
        "On a full file system the runner marks the cut in the log and notes it on the task",
        .enabled(if: Tmpfs.canMount, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func fileSystemFull() throws {
        let h = try RunnerHarness()
        defer { h.tearDown() }
        let logs = h.configuration.logDirectory
        try Tmpfs.mount(at: logs, size: "64k")
        defer { Tmpfs.unmount(logs) }
        h.start()
        // 200 KiB of output into a 64 KiB file system (the default head keeps up to 1 MiB).
        let job = try h.submit([("noisy", [], sh("yes x | head -c 204800; echo done"))])
        let finished = try #require(try h.finishedJob(job.id))
        let task = try #require(finished.task("noisy"))
        #expect(task.state == .succeeded)
        #expect(task.message?.contains("log incomplete: No space left on device") == true, "\(String(describing: task.message))")
        let text = h.log(finished, "noisy")
        #expect(text.hasSuffix("[sluice: log cut here: No space left on device]\n"), "\(text.suffix(120))")
    }
}
