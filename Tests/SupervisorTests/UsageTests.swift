import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Bad usage: one line on stderr, exit 64, nothing started, no log, no journal.
@Suite("Bad usage", .timeLimit(.minutes(1)))
struct UsageTests {
    /// A valid command line, as (option, value) pairs, whose task would create `ran` in `dir`.
    static func valid(_ dir: TemporaryDirectory) -> [(String, String)] {
        [
            ("--run-key", "key/1"), ("--log", dir.file("task.log")), ("--journal", dir.file("status.journal")), ("--head", "100"),
            ("--tail", "100"), ("--grace", "5"), ("--timeout", "60"), ("--cwd", dir.path),
        ]
    }

    static let task = ["--", "/usr/bin/touch", "touch", "ran"]

    /// The command line with `option`'s value replaced (nil: left out).
    static func replacing(_ option: String, with value: String?, in dir: TemporaryDirectory) -> [String] {
        let pairs = self.valid(dir).compactMap { pair in pair.0 == option ? value.map { (pair.0, $0) } : pair }
        return pairs.flatMap { [$0.0, $0.1] } + self.task
    }

    /// Runs the supervisor with `arguments` and checks that it refused them.
    static func refuses(_ arguments: [String], in dir: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let running = try Supervisor.start(
            arguments.map { Array($0.utf8) }, environment: [Array("PATH=/usr/bin:/bin".utf8)], stderrPath: dir.file("supervisor.stderr"))
        let exit = running.wait(limit: .seconds(10))
        #expect(exit.code == 64, "\(arguments): \(exit)", sourceLocation: sourceLocation)
        let lines = exit.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "one line on stderr: \(exit.stderr)", sourceLocation: sourceLocation)
        #expect(exit.stderr.hasPrefix("sluice-supervisor: "), "\(exit.stderr)", sourceLocation: sourceLocation)
        #expect(!Files.exists(dir.file("ran")), "the task ran", sourceLocation: sourceLocation)
        #expect(!Files.exists(dir.file("status.journal")), "a journal was written", sourceLocation: sourceLocation)
        #expect(!Files.exists(dir.file("task.log")), "a log was created", sourceLocation: sourceLocation)
    }

    @Test("The valid command line the other cases break does run the task")
    func validRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let running = try Supervisor.start(
            (Self.valid(dir).flatMap { [$0.0, $0.1] } + Self.task).map { Array($0.utf8) }, environment: [Array("PATH=/usr/bin:/bin".utf8)],
            stderrPath: dir.file("supervisor.stderr"))
        let exit = running.wait()
        #expect(exit.code == 0, "\(exit)")
        #expect(Files.exists(dir.file("ran")))
        #expect(Journal(path: dir.file("status.journal"))?.records(for: "key/1").map { $0["exit_status"] } == ["0"])
    }

    @Test("A required option left out", arguments: ["--run-key", "--log", "--journal", "--head", "--tail", "--grace", "--cwd"])
    func missingOption(option: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.refuses(Self.replacing(option, with: nil, in: dir), in: dir)
    }

    @Test(
        "A value that does not parse",
        arguments: [
            ("--head", "-1"), ("--head", "abc"), ("--head", ""), ("--head", "1.5"), ("--head", " 1"), ("--head", "+1"),
            ("--head", "99999999999999999999999"), ("--tail", "x"), ("--tail", "1k"), ("--grace", "-1"), ("--grace", "abc"),
            ("--grace", "1e3"), ("--grace", ".5"), ("--grace", "5."), ("--grace", ""), ("--grace", "inf"), ("--timeout", "0"),
            ("--timeout", "0.0"), ("--timeout", "abc"), ("--timeout", "-1"), ("--timeout", "99999999999"), ("--run-key", ""),
            ("--run-key", "a\nb"), ("--run-key", "a\rb"), ("--run-key", "key/1\n"), ("--run-key", "\r"),
            ("--run-key", "x\nend\nversion=1"), ("--log", ""), ("--journal", ""), ("--cwd", ""),
        ])
    func badValue(option: String, value: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.refuses(Self.replacing(option, with: value, in: dir), in: dir)
    }

    @Test("Unknown options, a missing value, a repeated option, no -- or nothing after it, a relative program, a journal path too long")
    func badShape() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let options = Self.valid(dir).flatMap { [$0.0, $0.1] }
        let cases: [[String]] = [
            [],
            ["--help"],
            options + ["--bogus", "1"] + Self.task,
            options + ["--log=x"] + Self.task,
            options + ["-h", "1"] + Self.task,
            options + ["--head"],
            options,
            options + ["--"],
            options + ["--", "/usr/bin/touch"],
            options + ["--log", dir.file("other.log")] + Self.task,
            options + ["--", "touch", "touch", "ran"],
            options + ["--", "usr/bin/touch", "touch", "ran"],
            ["/usr/bin/touch", "touch", "ran"],
            // PATH_MAX (4096) bytes and more: open(2) would refuse it, after the task ran.
            Self.replacing("--journal", with: "/" + String(repeating: "j", count: 4095), in: dir),
        ]
        for arguments in cases { try Self.refuses(arguments, in: dir) }
    }

    @Test("Grace 0 and fractional seconds are valid")
    func validSeconds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation(dir, program: "/usr/bin/touch", argv: ["touch", "ran"])
        invocation.grace = "0"
        invocation.timeout = "0.000000000001"
        // (A timeout of 1 ns may stop the task before it ends: any outcome will do.)
        _ = try Supervisor.run(invocation).requireStatus()
        // Another attempt, appending its own record to the same journal.
        invocation.runKey = "9f1c2a3b4c5d6e7f/42/extract/2"
        invocation.grace = "0.25"
        invocation.timeout = "12.5"
        let result = try Supervisor.run(invocation)
        #expect(try result.requireStatus()["exit_status"] == "0")
        #expect(Files.exists(dir.file("ran")))
    }
}
