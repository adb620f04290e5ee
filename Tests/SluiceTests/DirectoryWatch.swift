import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Records, with inotify, what happens to the entries of one directory: which files were created,
/// written, renamed, deleted, and whose metadata (mode) changed afterwards. Tests use it to prove
/// that a file was never chmod'ed after its creation, i.e. had its final mode from the start.
final class DirectoryWatch {
    /// One inotify event: the mask (`IN_CREATE`, `IN_ATTRIB`, …) and the entry's name.
    struct Event: CustomStringConvertible {
        /// The event's `IN_*` bits.
        let mask: UInt32
        /// The entry's name; empty for the watched directory itself.
        let name: String

        /// Whether the event has any of `bits` (an `IN_*` constant).
        func has(_ bits: Int32) -> Bool { self.mask & UInt32(bitPattern: bits) != 0 }

        var description: String {
            let names: [(Int32, String)] = [
                (IN_CREATE, "create"), (IN_ATTRIB, "attrib"), (IN_MODIFY, "modify"), (IN_CLOSE_WRITE, "close_write"),
                (IN_MOVED_FROM, "moved_from"), (IN_MOVED_TO, "moved_to"), (IN_DELETE, "delete"),
            ]
            return "\(self.name):" + names.filter { self.has($0.0) }.map(\.1).joined(separator: "|")
        }
    }

    /// Why the watch could not be set up or read.
    struct Failure: Error, CustomStringConvertible {
        /// What failed, with errno's text.
        let description: String
        init(_ what: String) { self.description = "\(what): \(String(cString: strerror(errno)))" }
    }

    private let fd: Int32

    /// Starts watching `directory`.
    init(_ directory: String) throws {
        // Non-blocking, so `events()` returns what is queued instead of waiting for more.
        self.fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard self.fd >= 0 else { throw Failure("inotify_init1") }
        let mask = IN_CREATE | IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE
        guard inotify_add_watch(self.fd, directory, UInt32(bitPattern: mask)) >= 0 else {
            close(self.fd)
            throw Failure("inotify_add_watch \(directory)")
        }
    }

    deinit { close(self.fd) }

    /// The events queued since the last call, oldest first.
    func events() throws -> [Event] {
        var events: [Event] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(self.fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return events }
            guard n > 0 else { throw Failure("read inotify") }
            // Records are `struct inotify_event` (wd, mask, cookie, len) followed by `len` bytes
            // of NUL-padded name; the kernel only ever returns whole records.
            var offset = 0
            while offset + 16 <= n {
                let (mask, length) = buffer.withUnsafeBytes {
                    (
                        $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                        Int($0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                let name = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                events.append(Event(mask: mask, name: String(decoding: name, as: UTF8.self)))
                offset += 16 + length
            }
        }
    }
}
