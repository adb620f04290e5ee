import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// The data directory (`server.data_dir`): the job store, the task logs and the CSRF key.
/// Creating it, and its `logs`, closed to other users; and warning when its mode lets other
/// local users look in or change what is there.
enum DataDirectory {
    /// The mode of directories Sluice creates: owner and group (for backups or an operator
    /// group), nobody else.
    static let mode: mode_t = 0o750

    /// Creates `path` and any missing parents with mode 0750; an existing directory is fine.
    ///
    /// Each directory gets its mode from `mkdir` itself, not from a later chmod, so there is no
    /// moment in which it is open to others (Foundation's `createDirectory(attributes:)` creates
    /// with 0777 & ~umask first, and its parents stay so).
    static func create(_ path: String) throws(DataDirectoryError) {
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            // EEXIST covers a directory made by someone else meanwhile; a file there is caught
            // by the check below.
            do {
                try syscall(where: "mkdir") { mkdir(prefix, Self.mode) }
            } catch let error where error.errno == EEXIST {
                continue
            } catch {
                throw DataDirectoryError(path: prefix, error)
            }
        }
        do { try syscall(where: "stat") { stat(path, &info) } } catch { throw DataDirectoryError(path: path, error) }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) else { throw DataDirectoryError(path: path, reason: "is not a directory") }
    }

    /// Warnings (at `server.data_dir`) if the directory at `path` is group- or world-writable or
    /// world-readable; none if it is fine or cannot be seen (missing, or no permission).
    static func warnings(_ path: String) -> [ConfigProblem] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        let mode = info.st_mode & 0o7777
        var flaws: [String] = []
        if mode & 0o020 != 0 { flaws.append("group-writable") }
        if mode & 0o002 != 0 { flaws.append("world-writable") }
        if mode & 0o004 != 0 { flaws.append("world-readable") }
        guard !flaws.isEmpty else { return [] }
        return [
            ConfigProblem(
                path: "server.data_dir",
                message: "\(path) is mode \(String(format: "%04o", mode)) (\(flaws.joined(separator: ", "))): other local users can "
                    + (mode & 0o022 != 0 ? "replace or remove the job store, the task logs and the CSRF key" : "list what is kept there")
                    + "; make it 0750 or 0700 (chmod 0750 \(path))")
        ]
    }
}

/// The data directory could not be created.
struct DataDirectoryError: Error, CustomStringConvertible {
    /// The directory concerned.
    let path: String
    /// What went wrong.
    let reason: String

    /// An error with `reason`.
    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The failure of a system call on `path`.
    init(path: String, _ error: SystemCallError) { self.init(path: path, reason: "\(error.function): \(error.message)") }

    var description: String { "cannot create \(self.path): \(self.reason)" }
}
