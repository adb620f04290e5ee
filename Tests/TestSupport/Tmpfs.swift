public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small tmpfs mounted by a test, to run something against a file system that really fills up.
public enum Tmpfs {
    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as in CI); probed once by
    /// mounting and unmounting a 64 KiB one. Tests that need it are skipped, with that reason,
    /// where it is false.
    public static let canMount: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-mount-probe-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount(dir)
        return true
    }()

    /// Mounts a tmpfs of `size` (e.g. `"1m"`, `"64k"`) at `path`, creating the directory.
    /// - Throws: `TmpfsError` with errno if mounting fails.
    public static func mount(at path: String, size: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(size)") == 0 else { throw TmpfsError(path: path, errno: errno) }
    }

    /// Unmounts `path` lazily (`MNT_DETACH`), so files still open there do not keep it busy.
    public static func unmount(_ path: String) { umount2(path, Int32(MNT_DETACH)) }
}

/// A tmpfs could not be mounted.
public struct TmpfsError: Error, CustomStringConvertible {
    /// Where.
    public let path: String
    /// The mount(2) errno.
    public let errno: Int32

    public var description: String { "cannot mount a tmpfs at \(self.path): \(String(cString: strerror(self.errno)))" }
}
