import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Reads one job's status journal: the file every supervisor of the job appends its attempt's
/// outcome to (docs/supervisor.md, "The status journal").
///
/// The journal only grows while the job runs, so the reader keeps its place and reads only what
/// was appended since its last look: a job of 100,000 attempts is read once in all, not once per
/// attempt. Records found on the way wait, by run key, until their attempt is asked for (`take`);
/// each is handed out once. Run keys are compared as bytes.
///
/// The reader rule, as the supervisor's writer expects it: a line `version=1` opens a record
/// (dropping one already open: it was torn), an empty line drops an open record, a line `end`
/// completes the open record, any other line belongs to the open record or, if none is open, is
/// skipped. A record still open at the end of the file is being written, or was torn: it is
/// looked at again next time. For one run key the first complete record counts.
///
/// A value type confined to its user (the runner thread); not for sharing.
public struct StatusJournal {
    /// The journal's path.
    public let path: String
    /// Where the next read starts: every byte before it is part of a complete record, of a
    /// dropped one, or of skipped lines.
    private var offset: Int64 = 0
    /// Whether the file has been read at least once (by `take` or `discard`).
    private var hasRead = false
    /// Complete records not yet taken (or, if one did not parse, why), by run key bytes.
    private var waiting: [[UInt8]: Result<SupervisorStatus, SupervisorStatus.FormatError>] = [:]
    /// Run keys already handed out or discarded: a later record with the same key is not the
    /// first and does not count.
    private var settled: Set<[UInt8]> = []

    /// A reader for the journal at `path`, which need not exist yet.
    public init(path: String) { self.path = path }

    /// Bytes one record may take at most before the reader gives up on it (a real one is a few
    /// hundred bytes); the same bound as for a status file.
    static let maximumRecordBytes = SupervisorStatus.maximumBytes

    /// The outcome recorded for `runKey`, read from what the journal holds now.
    /// - Returns: nil if no complete record for `runKey` is in the journal (the supervisor has not
    ///   finished, or died before it could record anything), or if it was already taken.
    /// - Throws: `SupervisorStatus.FormatError` if the journal cannot be read, or if the record
    ///   for `runKey` is complete but does not parse.
    public mutating func take(runKey: String) throws(SupervisorStatus.FormatError) -> SupervisorStatus? {
        let key = Array(runKey.utf8)
        if self.waiting[key] == nil { try self.catchUp() }
        guard let found = self.waiting.removeValue(forKey: key) else { return nil }
        self.settled.insert(key)
        return try found.get()
    }

    /// Forgets any record for `runKey` the journal holds so far, so that only a record appended
    /// later counts: called before an attempt starts. A journal that cannot be read is left for
    /// `take` to report. Reads the file only the first time (every record appended after that
    /// first read was written by a supervisor started since).
    public mutating func discard(runKey: String) {
        if !self.hasRead { try? self.catchUp() }
        let key = Array(runKey.utf8)
        self.waiting.removeValue(forKey: key)
        // Not `settled`: the new attempt's own record, appended later, must still count.
    }

    /// Reads what was appended since the last read and files every complete record.
    private mutating func catchUp() throws(SupervisorStatus.FormatError) {
        let fd: Int32
        do {
            fd = try syscall(where: "open") { self.path.withCString { open($0, O_RDONLY | O_CLOEXEC) } }
        } catch  where error.errno == ENOENT {
            // No journal yet: no supervisor of the job has finished (or none ever started).
            self.hasRead = true
            return
        } catch {
            throw SupervisorStatus.FormatError("cannot read \(self.path): \(error)")
        }
        defer { try? Posix.close(fd) }
        var bytes: [UInt8] = []
        do {
            var size = stat()
            try syscall(where: "fstat") { fstat(fd, &size) }
            // Shorter than what was read: the file was replaced or cut (a restored log
            // directory). Start over; keys already handed out stay settled.
            if Int64(size.st_size) < self.offset { self.offset = 0 }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let start = off_t(self.offset + Int64(bytes.count))
                let n = try syscall(where: "pread") { chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) } }
                if n == 0 { break }
                bytes += chunk[..<n]
            }
        } catch {
            throw SupervisorStatus.FormatError("cannot read \(self.path): \(error)")
        }
        self.hasRead = true
        self.offset += Int64(self.scan(bytes))
    }

    /// Files the complete records in `bytes` (the journal from `offset` on); returns how many
    /// bytes are done with: up to the start of a record still open, or of a last line that has
    /// no newline yet.
    private mutating func scan(_ bytes: [UInt8]) -> Int {
        var open: Int? = nil  // where the open record's first line (`version=1`) starts
        var lineStart = 0
        var done = 0
        while let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[lineStart..<newline]
            let next = newline + 1
            if line.elementsEqual("version=1".utf8) {
                open = lineStart
            } else if line.isEmpty {
                open = nil
            } else if line.elementsEqual("end".utf8) {
                if let start = open { self.file(Array(bytes[start..<lineStart])) }
                open = nil
            } else if let start = open, next - start > Self.maximumRecordBytes {
                open = nil  // far larger than any record: not one
            }
            lineStart = next
            if open == nil { done = next }
        }
        // Bytes after the last newline: the start of a line still being written (or torn). If
        // they grow without end they are not a record either.
        if open == nil && bytes.count - lineStart > Self.maximumRecordBytes { return bytes.count }
        return open ?? done
    }

    /// Files one complete record's body under its run key, unless that key already has one.
    private mutating func file(_ body: [UInt8]) {
        let parsed = Result { () throws(SupervisorStatus.FormatError) in try SupervisorStatus(parsing: body) }
        let key: [UInt8]
        switch parsed {
        case .success(let status): key = Array(status.runKey.utf8)
        case .failure:
            // The key as written, so that the attempt it belongs to learns why it has no outcome.
            guard let line = Self.lines(body).first(where: { $0.starts(with: "run_key=".utf8) }) else { return }
            key = Array(line.dropFirst("run_key=".utf8.count))
        }
        guard self.waiting[key] == nil, !self.settled.contains(key) else { return }
        self.waiting[key] = parsed
    }

    private static func lines(_ body: [UInt8]) -> [ArraySlice<UInt8>] {
        body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
    }
}
