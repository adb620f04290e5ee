import Foundation
import TestSupport
import Testing

@testable import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Task logs can hold anything a task prints: whatever the umask, no other local user may read them.
@Suite(.timeLimit(.minutes(1))) struct LogFileModeTests {
    @Test("Under umask 0 a task's log is created without any access for others")
    func logCreatedPrivate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("task.log")
        let outcome = try PrivateUmask.run(0) { () throws -> TaskOutcome in
            let task = try TaskProcess.spawnPiped(argv: ["/bin/echo", "secret"], environment: [:], workingDirectory: dir.path)
            return TaskProcess.supervise(task, logPath: path)
        }
        #expect(outcome.exitCode == 0)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o007 == 0, "task.log is mode \(String(info.st_mode & 0o7777, radix: 8))")
    }
}
