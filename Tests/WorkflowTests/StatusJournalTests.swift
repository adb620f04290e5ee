import Foundation
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The reader of a job's status journal, against journals written here byte for byte as the
/// supervisor writes them (`"\n" + body + "end\n"`), including torn and hostile ones. The
/// supervisor's own writes are tested in SupervisorTests with the real binary.
@Suite struct StatusJournalTests {
    /// A record's body for `key` with exit status `code`.
    static func body(_ key: String, exit code: Int = 0, finishedAt ms: Int = 2000) -> String {
        SupervisorStatusTests.text(
            [
                "version=1", "run_key=\(key)", "started_at_ms=1000", "finished_at_ms=\(ms)", "exit_status=\(code)", "log_bytes=5",
                "log_omitted=0",
            ])
    }

    /// The bytes the supervisor appends for `body`.
    static func record(_ body: String) -> String { "\n" + body + "end\n" }

    /// A fresh journal file in a temporary directory holding `text`.
    static func journal(_ text: String) throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory()
        let path = dir.file("status.journal")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return (dir, path)
    }

    static func append(_ text: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    @Test("Each attempt's record is found by its run key, once")
    func findsRecords() throws {
        let (dir, path) = try Self.journal(Self.record(Self.body("k/1/a/1", exit: 0)) + Self.record(Self.body("k/1/b/1", exit: 3)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/b/1")?.exitCode == 3)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 0)
        #expect(try journal.take(runKey: "k/1/a/1") == nil, "handed out once")
        #expect(try journal.take(runKey: "k/1/c/1") == nil)
    }

    @Test("No journal yet means no outcome, not an error")
    func missingJournal() throws {
        let dir = try TemporaryDirectory()
        var journal = StatusJournal(path: dir.file("status.journal"))
        #expect(try journal.take(runKey: "k/1/a/1") == nil)
    }

    @Test("Records appended after a read are found on the next look")
    func readsIncrementally() throws {
        let (dir, path) = try Self.journal("")
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/a/1") == nil)
        try Self.append(Self.record(Self.body("k/1/a/1", exit: 4)), to: path)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 4)
        for i in 1...50 { try Self.append(Self.record(Self.body("k/1/t\(i)/1", exit: i)), to: path) }
        for i in (1...50).reversed() { #expect(try journal.take(runKey: "k/1/t\(i)/1")?.exitCode == Int32(i)) }
    }

    @Test("A record still being written is not read until its end line is there")
    func partialRecord() throws {
        let whole = Self.record(Self.body("k/1/a/1", exit: 7))
        for cut in [1, 2, 10, whole.utf8.count - 4, whole.utf8.count - 1] {
            let (dir, path) = try Self.journal(String(whole.prefix(cut)))
            defer { _ = dir }
            var journal = StatusJournal(path: path)
            #expect(try journal.take(runKey: "k/1/a/1") == nil, "cut at \(cut)")
            try Self.append(String(whole.dropFirst(cut)), to: path)
            #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 7, "cut at \(cut)")
        }
    }

    @Test("A torn record (its writer died mid-write) is skipped and costs the records after it nothing")
    func tornRecords() throws {
        let body = Self.body("k/1/torn/1")
        var text = ""
        // Torn at every byte: each one followed by a good record, as the next supervisor appends.
        for cut in 1..<(body.utf8.count + 1) {
            text += "\n" + String(body.prefix(cut)) + Self.record(Self.body("k/1/good\(cut)/1", exit: cut % 200))
        }
        let (dir, path) = try Self.journal(text)
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        for cut in 1..<(body.utf8.count + 1) {
            #expect(try journal.take(runKey: "k/1/good\(cut)/1")?.exitCode == Int32(cut % 200), "after a record torn at \(cut)")
        }
        #expect(try journal.take(runKey: "k/1/torn/1") == nil)
    }

    @Test("Junk between records, an `end` without a record and a stray version line are skipped")
    func junk() throws {
        let text =
            "garbage\nend\n=\nversion=2\nrun_key=k/1/x/1\nend\n" + "version=1\n" + Self.record(Self.body("k/1/a/1", exit: 1))
            + "\u{0}\u{0}\u{0}\n" + Self.record(Self.body("k/1/b/1", exit: 2))
        let (dir, path) = try Self.journal(text)
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 1)
        #expect(try journal.take(runKey: "k/1/b/1")?.exitCode == 2)
        #expect(try journal.take(runKey: "k/1/x/1") == nil, "a version=2 line opens no record")
    }

    @Test("A complete record that does not parse is reported for its run key")
    func malformedRecord() throws {
        let bad = "version=1\nrun_key=k/1/a/1\nstarted_at_ms=1\nfinished_at_ms=2\nexit_status=-1\nlog_bytes=0\nlog_omitted=0\n"
        let (dir, path) = try Self.journal(Self.record(bad) + Self.record(Self.body("k/1/b/1", exit: 5)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(throws: SupervisorStatus.FormatError.self) { try journal.take(runKey: "k/1/a/1") }
        #expect(try journal.take(runKey: "k/1/b/1")?.exitCode == 5)
    }

    @Test("For one run key the first complete record counts")
    func firstRecordWins() throws {
        let (dir, path) = try Self.journal(Self.record(Self.body("k/1/a/1", exit: 1)) + Self.record(Self.body("k/1/a/1", exit: 2)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 1)
        try Self.append(Self.record(Self.body("k/1/a/1", exit: 3)), to: path)
        #expect(try journal.take(runKey: "k/1/a/1") == nil, "a later record of a key already taken does not count")
    }

    @Test("Run keys are compared as bytes: canonically equivalent spellings are different attempts")
    func runKeysAsBytes() throws {
        let kelvin = "k/1/\u{212A}/1"  // KELVIN SIGN, canonically equivalent to "K"
        let latin = "k/1/K/1"
        #expect(kelvin == latin, "Swift's String == says these are equal")
        let (dir, path) = try Self.journal(Self.record(Self.body(kelvin, exit: 9)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: latin) == nil)
        #expect(try journal.take(runKey: kelvin)?.exitCode == 9)
    }

    @Test("discard forgets a record already there (a restored directory), not one appended later")
    func discard() throws {
        let (dir, path) = try Self.journal(Self.record(Self.body("k/1/a/1", exit: 1)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        journal.discard(runKey: "k/1/a/1")
        #expect(try journal.take(runKey: "k/1/a/1") == nil)
        try Self.append(Self.record(Self.body("k/1/a/1", exit: 2)), to: path)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 2)
    }

    @Test("An oversized line or record is not held in memory as a record")
    func oversized() throws {
        let huge = String(repeating: "x", count: 200_000)
        let text =
            "version=1\nrun_key=k/1/big/1\nlog_failure=\(huge)\nstarted_at_ms=1\nfinished_at_ms=2\nexit_status=0\nlog_bytes=0\nlog_omitted=0\nend\n"
            + huge + Self.record(Self.body("k/1/a/1", exit: 6))
        let (dir, path) = try Self.journal(text)
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/big/1") == nil)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 6)
    }

    @Test("A journal that cannot be read is an error, not a missing outcome")
    func unreadable() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("status.journal")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        var journal = StatusJournal(path: path)
        #expect(throws: SupervisorStatus.FormatError.self) { try journal.take(runKey: "k/1/a/1") }
    }

    @Test("A journal cut shorter than what was read is read again from the start")
    func replacedJournal() throws {
        let (dir, path) = try Self.journal(Self.record(Self.body("k/1/a/1", exit: 1)) + Self.record(Self.body("k/1/b/1", exit: 2)))
        defer { _ = dir }
        var journal = StatusJournal(path: path)
        #expect(try journal.take(runKey: "k/1/a/1")?.exitCode == 1)
        try Data(Self.record(Self.body("k/1/c/1", exit: 3)).utf8).write(to: URL(fileURLWithPath: path))
        #expect(try journal.take(runKey: "k/1/c/1")?.exitCode == 3)
    }
}
