import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The status journal: each supervisor appends one record, `"\n" + body + "end\n"`, in one
/// writev on an O_APPEND descriptor; readers find complete records by the reader rule
/// (docs/supervisor.md, "The status journal"), which `Journal` implements.
@Suite("Status journal", .timeLimit(.minutes(1)))
struct JournalTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The run keys of the complete records of `text`, in order.
    static func runKeys(_ text: String) -> [String?] { Journal(bytes: Self.bytes(text)).records.map { $0["run_key"] } }

    @Test("The reader rule, as the test helper implements it")
    func readerRule() {
        // Two complete records; the first one for a run key is the one that counts.
        let two = "\nversion=1\nrun_key=a\nexit_status=0\nend\n\nversion=1\nrun_key=a\nexit_status=1\nend\n"
        #expect(Self.runKeys(two) == ["a", "a"])
        #expect(Journal(bytes: Self.bytes(two)).records(for: "a").first?.text == "version=1\nrun_key=a\nexit_status=0\n")
        #expect(!Journal(bytes: Self.bytes(two)).endsUnfinished)
        // Without the leading empty line, at the start of the file.
        #expect(Self.runKeys("version=1\nrun_key=a\nend\n") == ["a"])
        // `version=1` drops a record already open: it was torn.
        #expect(Self.runKeys("version=1\nrun_key=torn\nversion=1\nrun_key=b\nend\n") == ["b"])
        // An empty line drops the open record.
        #expect(Self.runKeys("\nversion=1\nrun_key=torn\nlog_by\n\nrun_key=c\nend\n") == [])
        // `end` and other lines with no record open are skipped.
        #expect(Self.runKeys("end\njunk\nrun_key=x\nversion=2\nend\n\nversion=1\nrun_key=d\nend\nend\n") == ["d"])
        // Still open at the end of the file (being written or torn), or its `end` line unfinished.
        let open = Journal(bytes: Self.bytes("\nversion=1\nrun_key=e\nend\n\nversion=1\nrun_key=f\n"))
        #expect(open.records.map { $0["run_key"] } == ["e"])
        #expect(open.endsUnfinished)
        #expect(Self.runKeys("\nversion=1\nrun_key=g\nend") == [])
        #expect(Journal(bytes: Self.bytes("\nversion=1\nrun_key=g\nend")).endsUnfinished)
        // Lines are split on LF only: a CR is part of a line (`end\r` is not `end`).
        #expect(Self.runKeys("\nversion=1\r\nrun_key=h\nend\n") == [])
        #expect(Self.runKeys("\nversion=1\nrun_key=h\nend\r\n") == [])
        #expect(Self.runKeys("") == [])
    }

    @Test("One run appends exactly \"\\n\", the body and \"end\\n\" to a new journal")
    func framing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation(dir, program: "/bin/true", argv: ["true"])
        #expect(!Files.exists(invocation.journalPath))
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        #expect(result.exit.stderr.isEmpty)
        let status = try result.requireStatus()
        let pid = try #require(status.int("task_pid"))
        let started = try #require(status.int("started_at_ms"))
        let finished = try #require(status.int("finished_at_ms"))
        let expected = """

            version=1
            run_key=\(invocation.runKey)
            task_pid=\(pid)
            started_at_ms=\(started)
            finished_at_ms=\(finished)
            exit_status=0
            log_bytes=0
            log_omitted=0
            end

            """
        #expect(Files.text(invocation.journalPath) == expected)
        #expect(result.journal?.endsUnfinished == false)
    }

    @Test("64 supervisors ending at once append to one journal: 64 complete records, one per run key, nothing interleaved")
    func concurrentAppends() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let count = 64
        // Every task blocks reading a FIFO until the test closes its only writer: then they all
        // end at once, and their supervisors append at about the same time.
        let fifo = dir.file("go")
        try #require(mkfifo(fifo, 0o600) == 0)
        let writer = open(fifo, O_RDWR | O_CLOEXEC)  // never blocks on Linux; keeps a writer open
        try #require(writer >= 0)
        var writerOpen = true
        defer { if writerOpen { close(writer) } }

        var invocations: [Invocation] = []
        var running: [Running] = []
        for index in 0..<count {
            var invocation = Invocation.shell("exec 3<go; echo ready; exec cat <&3", in: dir)
            // Run keys of different lengths, up to a few KiB: records of many sizes.
            invocation.runKey = "concurrent/\(index)/" + String(repeating: "k", count: index * 61)
            invocation.logPath = dir.file("job/task-\(index).log")
            invocation.stderrPath = dir.file("supervisor-\(index).stderr")
            invocations.append(invocation)
            running.append(
                try Supervisor.start(invocation.arguments, environment: invocation.environment, stderrPath: invocation.stderrPath))
        }
        let ready = Poll.blockingUntil(within: .seconds(30), every: .milliseconds(10)) {
            invocations.allSatisfy { Files.text($0.logPath) == "ready\n" }
        }
        #expect(ready, "not every task opened the FIFO")
        close(writer)
        writerOpen = false
        for (index, supervisor) in running.enumerated() {
            let exit = supervisor.wait(limit: .seconds(30))
            #expect(exit.code == 0, "supervisor \(index): \(exit)")
            #expect(exit.stderr.isEmpty, "supervisor \(index): \(exit)")
        }

        let journal = try #require(Journal(path: invocations[0].journalPath))
        #expect(journal.records.count == count)
        #expect(Set(journal.records.compactMap { $0["run_key"] }) == Set(invocations.map(\.runKey)))
        for invocation in invocations {
            let records = journal.records(for: invocation.runKey)
            #expect(records.count == 1, "\(invocation.runKey.prefix(20))…")
            #expect(records.first?.problems == [], "\(records.first?.text ?? "")")
            #expect(records.first?["exit_status"] == "0")
            #expect(records.first?["log_bytes"] == "6")
        }
        // Nothing but whole records, back to back: no byte of one inside another.
        let backToBack = journal.bytes == journal.records.flatMap { Self.bytes("\n\($0.text)end\n") }
        #expect(backToBack, "the journal holds more than its records, each framed, back to back")
        #expect(!journal.endsUnfinished)
        #expect(
            Files.names(in: dir.file("job"))
                == Set(invocations.map { URL(fileURLWithPath: $0.logPath).lastPathComponent } + ["status.journal"]))
    }

    @Test("A journal that ends in a torn record, after junk lines: the new record is found, the torn one is not")
    func tornRecordBefore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let invocation = Invocation.shell("echo hello", in: dir)
        // Junk, a stray `end`, a complete record of another attempt, a record that lacks its
        // `end` (its writer died at a line boundary), and one torn in the middle of a line. The
        // torn records carry the run key too, with made-up outcomes.
        let old = Self.bytes(
            """
            junk without a record
            end
            run_key=\(invocation.runKey)
            exit_status=99

            version=1
            run_key=other/1
            started_at_ms=1
            finished_at_ms=2
            exit_status=3
            log_bytes=0
            log_omitted=0
            end
            version=1
            run_key=\(invocation.runKey)
            exit_status=98
            version=1
            run_key=\(invocation.runKey)
            exit_status=97
            log_by
            """)
        try Files.write(old, to: invocation.journalPath)
        #expect(Journal(bytes: old).records.map { $0["run_key"] } == ["other/1"], "premise")
        #expect(Journal(bytes: old).endsUnfinished, "premise")
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 0, "\(result.exit)")
        let status = try result.requireStatus()
        #expect(status["exit_status"] == "0", "\(status.text)")
        #expect(status["log_bytes"] == "6")
        #expect(status.problems.isEmpty)
        let journal = try #require(result.journal)
        #expect(journal.records.map { $0["run_key"] } == ["other/1", invocation.runKey])
        let appended = journal.bytes == old + Self.bytes("\n\(status.text)end\n")
        #expect(appended, "not the old bytes and the framed record: \(journal.text)")
        #expect(!journal.endsUnfinished)
    }

    @Test(
        "A journal that cannot be opened (a directory, a missing directory): exit 70 and one line on stderr, after the task ran and was reaped",
        arguments: [
            ("job/a directory", true, "Is a directory (errno 21)"),
            ("job/missing/status.journal", false, "No such file or directory (errno 2)"),
        ])
    func cannotOpen(path: String, isDirectory: Bool, error: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("sleep 60 & echo background=$!; echo leader=$$", in: dir)
        invocation.journalPath = dir.file(path)
        if isDirectory { try FileManager.default.createDirectory(atPath: invocation.journalPath, withIntermediateDirectories: false) }
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 70, "\(result.exit)")
        #expect(result.status == nil)
        #expect(result.exit.stderr == "sluice-supervisor: cannot append to status journal \(invocation.journalPath): open: \(error)\n")
        // The task ran, its leader was reaped, and its group is gone, as with any outcome.
        let leader = try #require(StopTests.pid("leader", in: result.logText), "\(result.logText)")
        let background = try #require(StopTests.pid("background", in: result.logText), "\(result.logText)")
        #expect(ProcessTable.isGone(leader))
        #expect(Poll.blockingUntil(within: .seconds(2)) { ProcessTable.isGone(background) })
        #expect(ProcessTable.livingMembers(ofProcessGroup: leader).isEmpty)
        #expect(!Files.exists(dir.file("job/missing")))
    }

    @Test("A journal path with a line break is left out of the message, which stays one line")
    func pathWithLineBreak() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("echo ran", in: dir)
        invocation.journalPath = dir.file("job/missing\nline/status.journal")
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 70, "\(result.exit)")
        #expect(result.exit.stderr == "sluice-supervisor: cannot append to status journal: open: No such file or directory (errno 2)\n")
        #expect(result.logText == "ran\n")
    }

    @Test("A write that fails (a device that is always full): exit 70, step write")
    func writeFails() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var invocation = Invocation.shell("echo ran", in: dir)
        invocation.journalPath = "/dev/full"
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 70, "\(result.exit)")
        #expect(
            result.exit.stderr
                == "sluice-supervisor: cannot append to status journal /dev/full: write: No space left on device (errno 28)\n")
        #expect(result.logText == "ran\n")
    }

    @Test(
        "A short write on a full file system is a failure (exit 70, a torn record left); the next record after it is found",
        .enabled(if: Tmpfs.canMount, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func shortWrite() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A 64 KiB tmpfs with one 4 KiB page left, for a record of more than 6 KiB.
        let mount = dir.file("fs")
        try Tmpfs.mount(at: mount, size: "64k")
        defer { Tmpfs.unmount(mount) }
        try FileManager.default.createDirectory(atPath: mount + "/job", withIntermediateDirectories: false)
        try Files.write(Array(repeating: 0, count: 60 * 1024), to: mount + "/filler")
        var invocation = Invocation.shell("echo ran", in: dir)
        invocation.journalPath = mount + "/job/status.journal"
        invocation.runKey = "short/" + String(repeating: "k", count: 6000)
        let result = try Supervisor.run(invocation)
        #expect(result.exit.code == 70, "\(result.exit)")
        let prefix = "sluice-supervisor: cannot append to status journal \(invocation.journalPath): write: short write, 4096 of "
        #expect(result.exit.stderr.hasPrefix(prefix) && result.exit.stderr.hasSuffix(" bytes\n"), "\(result.exit.stderr)")
        let total = Int(result.exit.stderr.dropFirst(prefix.count).dropLast(" bytes\n".count)) ?? 0
        #expect(total > 6000)
        // What was written is the record's start, and nothing more.
        let torn = Files.bytes(invocation.journalPath)
        #expect(torn.count == 4096)
        #expect(torn.starts(with: Self.bytes("\nversion=1\nrun_key=short/kkk")))
        #expect(Journal(bytes: torn).records.isEmpty)
        #expect(Journal(bytes: torn).endsUnfinished)

        // With room again, the next attempt's record follows the torn one and is found.
        try FileManager.default.removeItem(atPath: mount + "/filler")
        var next = invocation
        next.runKey = "short/2"
        let after = try Supervisor.run(next)
        #expect(after.exit.code == 0, "\(after.exit)")
        let status = try after.requireStatus()
        #expect(status["exit_status"] == "0")
        let journal = try #require(after.journal)
        #expect(journal.records.map { $0["run_key"] } == ["short/2"])
        let appended = journal.bytes == torn + Self.bytes("\n\(status.text)end\n")
        #expect(appended, "not the torn bytes and the framed record: \(journal.text.suffix(400))")
    }
}
