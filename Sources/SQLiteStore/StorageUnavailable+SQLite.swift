import JobStore
import SQLite

extension StorageUnavailable {
    /// The `StorageUnavailable` an SQLite error stands for, or nil if it is no "cannot right now"
    /// (a bug, a constraint, a corrupt file: those stay what they are).
    ///
    /// Result codes (sqlite3.h): SQLITE_BUSY 5 and SQLITE_LOCKED 6 (lock held past the busy
    /// timeout), SQLITE_FULL 13 (no space for the database or journal), SQLITE_IOERR 10 and
    /// SQLITE_CANTOPEN 14 (the file system failed us). A full disk often surfaces as an
    /// SQLITE_IOERR_WRITE (10 | 3<<8) with errno ENOSPC, not as SQLITE_FULL: SQLite reports
    /// FULL only where it checks for it itself, so the I/O text is searched for "full" too.
    init?(classifying error: SQLiteError) {
        switch error.primaryCode {
        case 5, 6: self.init(.busy, detail: error.message)
        case 13: self.init(.full, detail: error.message)
        case 10, 14:
            let full = error.message.lowercased().contains("full") || error.message.contains("No space")
            self.init(full ? .full : .io, detail: error.message)
        default: return nil
        }
    }
}
