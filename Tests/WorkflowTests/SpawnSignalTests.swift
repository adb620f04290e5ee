import Foundation
import TestSupport
import Testing
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Tasks start with every signal at its default disposition and none blocked, whatever Sluice
/// inherited: started in the background from a non-interactive shell, Sluice begins with SIGINT
/// and SIGQUIT ignored (and ignored signals survive exec), and it blocks SIGTERM, SIGINT and
/// SIGHUP in all its threads to sigwait on them.
///
/// Serialized, and each test is synchronous: dispositions belong to the whole test process, and
/// the signal mask to the thread that calls posix_spawn, so both are changed, used and restored
/// without leaving the test's thread, and restored before the task's output is read.
@Suite(.serialized, .timeLimit(.minutes(1))) struct SpawnSignalTests {
    static let environment = ["PATH": "/usr/bin:/bin"]

    /// How a task was started; each variant must reset the signals.
    enum Variant: String, CaseIterable, CustomTestStringConvertible {
        case logFile, pipe
        var testDescription: String { self.rawValue }
    }

    @Test(
        "A task's SigIgn and SigBlk are empty although this process ignores SIGINT and SIGQUIT and this thread blocks SIGTERM",
        arguments: Variant.allCases)
    func defaultDispositionsAndEmptyMask(variant: Variant) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let logPath = dir.file("status.log")
        let argv = ["/bin/cat", "/proc/self/status"]

        let pid: Int32
        let spawned: SpawnedTask?
        do {
            let inherited = try InheritedSignals()
            defer { inherited.restore() }
            switch variant {
            case .logFile:
                pid = try TaskProcess.spawn(argv: argv, environment: Self.environment, workingDirectory: dir.path, logPath: logPath)
                spawned = nil
            case .pipe:
                let task = try TaskProcess.spawnPiped(argv: argv, environment: Self.environment, workingDirectory: dir.path)
                pid = task.pid
                spawned = task
            }
        }
        let exitCode = spawned.map { TaskProcess.supervise($0, logPath: logPath).exitCode } ?? TaskProcess.wait(pid)
        #expect(exitCode == 0)

        let status = String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self)
        let ignored = try #require(Self.mask("SigIgn", in: status), "\(status)")
        let blocked = try #require(Self.mask("SigBlk", in: status), "\(status)")
        #expect(ignored & Self.bit(SIGINT) == 0, "SIGINT still ignored: SigIgn \(String(ignored, radix: 16))")
        #expect(ignored & Self.bit(SIGQUIT) == 0, "SIGQUIT still ignored: SigIgn \(String(ignored, radix: 16))")
        #expect(blocked & Self.bit(SIGTERM) == 0, "SIGTERM still blocked: SigBlk \(String(blocked, radix: 16))")
        // Every signal, including glibc's internal 32 and 33 that sigfillset leaves out (and
        // posix_spawn would then set to SIG_IGN in the child).
        #expect(ignored == 0, "SigIgn \(String(ignored, radix: 16))")
        #expect(blocked == 0, "SigBlk \(String(blocked, radix: 16))")
    }

    /// The bit of `signal` in a /proc/<pid>/status mask.
    private static func bit(_ signal: Int32) -> UInt64 { 1 << UInt64(signal - 1) }

    /// The hexadecimal mask on the line `name:` of /proc/<pid>/status.
    private static func mask(_ name: String, in status: String) -> UInt64? {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .flatMap { UInt64($0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
    }
}

/// SIGINT and SIGQUIT ignored in the whole process and SIGTERM blocked in the calling thread,
/// as Sluice has them when started in the background with its termination signals blocked;
/// `restore()` puts back what was there before.
private struct InheritedSignals {
    private var previousInterrupt = sigaction()
    private var previousQuit = sigaction()
    private var previousMask = sigset_t()

    init() throws {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        try #require(sigaction(SIGINT, &ignore, &self.previousInterrupt) == 0)
        try #require(sigaction(SIGQUIT, &ignore, &self.previousQuit) == 0)
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGTERM)
        try #require(pthread_sigmask(SIG_BLOCK, &block, &self.previousMask) == 0)
        // The premise: this thread really has SIGTERM blocked and SIGINT, SIGQUIT ignored now.
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        try #require(sigismember(&current, SIGTERM) == 1)
        var now = sigaction()
        sigaction(SIGQUIT, nil, &now)
        try #require(unsafeBitCast(now.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self))
    }

    func restore() {
        var interrupt = self.previousInterrupt
        var quit = self.previousQuit
        var mask = self.previousMask
        sigaction(SIGINT, &interrupt, nil)
        sigaction(SIGQUIT, &quit, nil)
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }
}
