import Crypto
import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// A small file of random bytes that only its owner can read, created on first use: the CSRF key.
///
/// The file is never readable by anyone else, not even for an instant: the bytes go into a new
/// temporary file opened `O_EXCL` with mode 0600 (the umask can only take bits away), which is
/// synced and then published under the real name with `link`, which, unlike `rename`, fails
/// if the name exists. So the name only ever holds a complete key, and when two processes
/// create it at once, one wins and the other reads the winner's key instead of keeping its own.
enum SecretFile {
    /// The bytes in the file at `path`, which must hold exactly `count` bytes; if there is no
    /// file, one is created with `count` random bytes.
    /// - Throws: `SecretFileError` naming the file, also when it exists with another size (a
    ///   damaged or foreign key is never silently replaced or used).
    static func loadOrCreate(path: String, count: Int) throws(SecretFileError) -> [UInt8] {
        if let existing = try self.read(path, count: count) { return existing }
        let secret = SecureRandom.bytes(count)
        let temporary = "\(path).\(Hex.encode(SecureRandom.bytes(8))).tmp"
        try self.writeNew(temporary, secret)
        defer {
            // After the link (or its failure) the temporary name is not needed. A failed unlink
            // leaves a 0600 copy behind, which is untidy but not a leak; nothing to report.
            _ = unlink(temporary)
        }
        do {
            try syscall(where: "link") { link(temporary, path) }
        } catch let error where error.errno == EEXIST {
            // Another process published its key first: use that one, so both agree.
            guard let theirs = try self.read(path, count: count) else {
                throw SecretFileError(path: path, reason: "appeared and vanished while it was being created")
            }
            return theirs
        } catch {
            throw SecretFileError(path: path, error)
        }
        try self.syncDirectory(of: path)
        return secret
    }

    /// The file's `count` bytes, or nil if there is no file.
    private static func read(_ path: String, count: Int) throws(SecretFileError) -> [UInt8]? {
        let fd: Int32
        do {
            // O_NONBLOCK: if the name is a FIFO, opening must not wait for a writer; fstat below
            // then refuses it. For a regular file the flag changes nothing.
            fd = try syscall(where: "open") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        } catch let error where error.errno == ENOENT {
            return nil
        } catch {
            throw SecretFileError(path: path, error)
        }
        defer { try? Posix.close(fd) }
        var info = stat()
        try self.onFile(path) { () throws(SystemCallError) in try syscall(where: "fstat") { fstat(fd, &info) } }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SecretFileError(path: path, reason: "is not a regular file") }
        guard info.st_size == count else {
            throw SecretFileError(
                path: path,
                reason: "holds \(info.st_size) bytes instead of \(count): it is damaged or not Sluice's; remove it"
                    + " and a new key is created at the next start (forms shown before then must be reloaded)")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try self.onFile(path) { () throws(SystemCallError) in
                try syscall(where: "pread") {
                    bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(done)) }
                }
            }
            guard n > 0 else { throw SecretFileError(path: path, reason: "shrank while it was read") }
            done += n
        }
        return bytes
    }

    /// Runs system calls on `path`, reporting a failure as `SecretFileError` naming it.
    private static func onFile<T>(_ path: String, _ body: () throws(SystemCallError) -> T) throws(SecretFileError) -> T {
        do { return try body() } catch { throw SecretFileError(path: path, error) }
    }

    /// Creates `path` (which must not exist) with mode 0600, writes `bytes` and syncs them.
    private static func writeNew(_ path: String, _ bytes: [UInt8]) throws(SecretFileError) {
        // The mode is given here, at creation, so there is never a moment with a wider one;
        // O_EXCL also refuses a symlink or file someone planted under the name.
        let fd = try self.onFile(path) { () throws(SystemCallError) in
            try syscall(where: "open") { open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600) }
        }
        var failure: SystemCallError? = nil
        do throws(SystemCallError) {
            var done = 0
            while done < bytes.count {
                let n = try syscall(where: "write") { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) } }
                guard n > 0 else { throw SystemCallError(function: "write", errno: EIO) }
                done += n
            }
            // fsync before the link publishes the name: after a power loss the name then holds
            // the whole key or does not exist, never an empty file.
            try syscall(where: "fsync") { fsync(fd) }
        } catch {
            failure = error
        }
        // Closed once, whatever happened; close can report a deferred write error (NFS).
        do { try Posix.close(fd) } catch { failure = failure ?? error }
        if let failure {
            _ = unlink(path)
            throw SecretFileError(path: path, failure)
        }
    }

    /// fsyncs the directory holding `path`, so that its new name survives a power loss.
    private static func syncDirectory(of path: String) throws(SecretFileError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try self.onFile(directory) { () throws(SystemCallError) in
            let fd = try syscall(where: "open") { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { try? Posix.close(fd) }
            try syscall(where: "fsync") { fsync(fd) }
        }
    }
}

/// A secret file could not be read or created.
struct SecretFileError: Error, CustomStringConvertible {
    /// The file (or directory) concerned.
    let path: String
    /// What is wrong with it.
    let reason: String

    /// An error with `reason`.
    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The failure of a system call on `path`.
    init(path: String, _ error: SystemCallError) { self.init(path: path, reason: "\(error.function): \(error.message)") }

    var description: String { "\(self.path): \(self.reason)" }
}
