import Foundation
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a small file that is read again and again while Sluice runs (a webhook's secret)
/// without letting the file hang or swamp the reader.
enum BoundedFile {
    /// Why a file could not be read (names the file, never its content).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The bytes of the regular file at `path`, which must hold at most `limit` bytes.
    ///
    /// Opened `O_NONBLOCK` (a FIFO must not wait for a writer) and checked with `fstat` to be a
    /// regular file before anything is read: `/dev/zero` or a pipe are refused, not read
    /// forever. At most `limit + 1` bytes are read, whatever the file claims. (`SecretFile`
    /// reads the CSRF key the same way, for an exact size.)
    static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        do {
            let fd = try syscall(where: "open") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
            defer { try? Posix.close(fd) }
            var info = stat()
            _ = try syscall(where: "fstat") { fstat(fd, &info) }
            guard info.st_mode & S_IFMT == S_IFREG else { throw Failure(description: "\(path) is not a regular file") }
            var bytes = [UInt8](repeating: 0, count: limit + 1)
            var count = 0
            while count < bytes.count {
                let n = try syscall(where: "read") {
                    bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
                }
                if n == 0 { break }
                count += n
            }
            guard count <= limit else { throw Failure(description: "\(path) is larger than \(limit) bytes") }
            return Array(bytes.prefix(count))
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "cannot read \(path): \(error)")
        }
    }
}
