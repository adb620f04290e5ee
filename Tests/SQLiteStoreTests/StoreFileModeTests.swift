import Foundation
import JobStore
import SQLite
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The database holds parameters, logs' whereabouts and the audit trail: whatever the data
/// directory's mode and the umask, no other local user may read it.
@Suite struct StoreFileModeTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    @Test("Under umask 0 the database, its WAL and its shared-memory file are created readable by the owner only")
    func createdPrivate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sluice.db")
        let modes = try PrivateUmask.run(0) { () throws -> [String: mode_t?] in
            let store = try SQLiteJobStore(path: path)
            _ = try store.createJob(Fixtures.job())
            _ = try store.jobs(.init())
            // -wal and -shm exist only while a connection is open: look before the store goes.
            return Dictionary(uniqueKeysWithValues: ["", "-wal", "-shm"].map { (path + $0, Self.mode(path + $0)) })
        }
        for (file, mode) in modes.sorted(by: { $0.key < $1.key }) {
            let mode = try #require(mode, "\(file) exists while the store is open")
            #expect(mode & 0o007 == 0, "\(file) is mode \(String(mode, radix: 8))")
            #expect(mode == 0o600, "\(file) is mode \(String(mode, radix: 8))")
        }
    }

    @Test("Opening a store takes world access away from an existing database, and keeps the group's")
    func existingTightened() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sluice.db")
        try Connection(path: path).execute("CREATE TABLE t (x)")
        #expect(chmod(path, 0o664) == 0)
        let store = try SQLiteJobStore(path: path)
        _ = try store.createJob(Fixtures.job())
        #expect(Self.mode(path) == 0o660)
        #expect(Self.mode(path + "-wal") == 0o660, "SQLite gives the WAL the database's mode")
    }
}
