import Foundation
import JobStore
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One owner per data directory: a second `sluice serve` on the same `server.data_dir` either
/// refuses to start (its own `--socket`) or waits for the first to exit (an inherited socket, as
/// under lighttpd `bin-path`), and in neither case touches the first one's running tasks.
@Suite("One sluice serve per data directory", .serialized)
struct DataDirectoryOwnerTests {
    /// A running `sluice serve`, its output in a file.
    final class Serve: @unchecked Sendable {
        let process = Process()
        let output: String

        init(binary: String, config: String, socket: String?, stdin: FileHandle? = nil, output: String) throws {
            self.output = output
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            self.process.executableURL = URL(fileURLWithPath: binary)
            self.process.arguments = ["serve", "--config", config] + (socket.map { ["--socket", $0] } ?? [])
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            self.process.standardOutput = log
            self.process.standardError = log
            self.process.standardInput = stdin ?? FileHandle.nullDevice
            var environment = ProcessInfo.processInfo.environment
            environment["SLUICE_LOG_LEVEL"] = "info"
            self.process.environment = environment
            try self.process.run()
        }

        var text: String { (try? String(contentsOfFile: self.output, encoding: .utf8)) ?? "" }

        /// Waits until the process exits (true) or `timeout` passes (false).
        func waitForExit(timeout: Duration) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while self.process.isRunning {
                if ContinuousClock.now > deadline { return false }
                try await Task.sleep(for: .milliseconds(50))
            }
            return true
        }

        func stop() {
            if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        }
    }

    struct Setup {
        let directory: String
        let config: String
        let binary: String

        init() throws {
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-owner-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            self.config = self.directory + "/sluice.json5"
            let text = """
                {
                  server: { base_path: "/sluice", data_dir: "\(self.directory)/data", grace_period_seconds: 1 },
                  pipelines: { slow: { tasks: { nap: { run: ["/bin/sleep", "300"] } } } },
                }
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: self.config))
            self.binary = try LighttpdHarness.findSluiceBinary()
        }

        /// Queues one job of `slow` in the store, before any server runs (the runner claims it on start).
        func queueJob() throws {
            try FileManager.default.createDirectory(atPath: self.directory + "/data", withIntermediateDirectories: true)
            let store = try SQLiteJobStore(path: self.directory + "/data/sluice.db")
            _ = try store.createJob(
                NewJob(
                    pipeline: "slow", triggeredBy: "test", identitySource: "remote_user", params: [:], workingDirectory: self.directory,
                    tasks: [TaskRecord(name: "nap", needs: [], argv: ["/bin/sleep", "300"])]))
        }

        /// The running task's pid, once the store records it.
        func runningTaskPID(timeout: Duration = .seconds(20)) async throws -> Int32? {
            let deadline = ContinuousClock.now + timeout
            // Looked at once more after the deadline: on a busy machine this task may only be
            // resumed after it (the suites share a small pool of threads). The task it waits for
            // runs 300 s, far longer than a test takes even on a loaded machine (with 30 s, a
            // loaded CI run saw it end before the test looked).
            while true {
                let store = try SQLiteJobStore(path: self.directory + "/data/sluice.db")
                if let job = try store.job(id: 1), let task = job.tasks.first, task.state == .running, let pid = task.pid {
                    return pid
                }
                if ContinuousClock.now >= deadline { return nil }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        func task() throws -> TaskRecord? {
            try SQLiteJobStore(path: self.directory + "/data/sluice.db").job(id: 1)?.tasks.first
        }

        /// Starts `sluice serve` logging to `<name>.log`: on its own socket `<name>.sock`, or (with
        /// `stdin`) on the inherited listening socket it is given as fd 0.
        func serve(_ name: String, stdin: FileHandle? = nil) throws -> Serve {
            try Serve(
                binary: self.binary, config: self.config, socket: stdin == nil ? "\(self.directory)/\(name).sock" : nil, stdin: stdin,
                output: "\(self.directory)/\(name).log")
        }

        /// Kills what the test's servers left running (the task outlives them: `tasks_on_stop`
        /// keeps it), then removes the directory.
        func remove() {
            for pid in ProcessTable.livingProcessIDs(under: self.directory) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    @Test("A second serve with its own socket refuses to start, names the owner, and leaves its tasks running")
    func secondRefused() async throws {
        let setup = try Setup()
        defer { setup.remove() }
        try setup.queueJob()
        let first = try setup.serve("a")
        defer { first.stop() }
        let pid = try #require(try await setup.runningTaskPID(), "the first server never started the task:\n\(first.text)")

        let second = try setup.serve("b")
        defer { second.stop() }
        #expect(try await second.waitForExit(timeout: .seconds(15)), "the second server did not give up:\n\(second.text)")
        #expect(second.process.terminationStatus == 1)
        #expect(second.text.contains("in use by process \(first.process.processIdentifier)"), "\(second.text)")
        #expect(!FileManager.default.fileExists(atPath: setup.directory + "/b.sock"))
        // The first one's task was not touched.
        #expect(kill(pid, 0) == 0, "the running task was killed")
        #expect(try setup.task()?.state == .running)
        #expect(first.process.isRunning)
    }

    @Test("Under an inherited socket a second serve waits for the first to exit, then takes over; a stop while waiting ends it")
    func inheritedSocketWaits() async throws {
        let setup = try Setup()
        defer { setup.remove() }
        try setup.queueJob()
        let first = try setup.serve("a")
        defer { first.stop() }
        let pid = try #require(try await setup.runningTaskPID(), "the first server never started the task:\n\(first.text)")

        // fd 0 a listening unix socket, as lighttpd's bin-path hands it over.
        let listener = try Self.listeningSocket(at: setup.directory + "/inherited.sock")
        defer { close(listener) }
        let stdin = FileHandle(fileDescriptor: listener, closeOnDealloc: false)
        let second = try setup.serve("b", stdin: stdin)
        defer { second.stop() }
        // A third, also waiting, is stopped by SIGTERM while it waits.
        let third = try setup.serve("c", stdin: stdin)
        defer { third.stop() }

        try await Task.sleep(for: .seconds(2))
        #expect(second.process.isRunning, "the second server exited instead of waiting:\n\(second.text)")
        #expect(second.text.contains("waiting for the previous process"), "\(second.text)")
        #expect(kill(pid, 0) == 0, "the waiting server killed the first one's task")
        #expect(try setup.task()?.state == .running)

        kill(third.process.processIdentifier, SIGTERM)
        #expect(try await third.waitForExit(timeout: .seconds(5)), "a waiting server ignored SIGTERM")
        #expect(third.process.terminationStatus == 1)
        #expect(third.text.contains("stopped while waiting"), "\(third.text)")

        // The first stops (its task is interrupted, as today); the second then owns the directory.
        kill(first.process.processIdentifier, SIGTERM)
        #expect(try await first.waitForExit(timeout: .seconds(20)))
        let deadline = ContinuousClock.now + .seconds(10)
        while !second.text.contains("\"msg\":\"started\"") && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(second.text.contains("\"msg\":\"started\""), "\(second.text)")
        kill(second.process.processIdentifier, SIGTERM)
        #expect(try await second.waitForExit(timeout: .seconds(20)))
        #expect(second.process.terminationStatus == 0)
    }

    /// A listening unix socket at `path` (unlinked first).
    static func listeningSocket(at path: String) throws -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw HarnessError("socket path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw HarnessError("bind/listen \(path) failed")
        }
        return fd
    }
}
