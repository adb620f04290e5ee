public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh, private (mode 0700) directory made with `mkdtemp`, for one test; call `remove()` in a
/// `defer`.
///
/// ```swift
/// let directory = try TemporaryDirectory()
/// defer { directory.remove() }
/// let config = try directory.write("sluice.json5", "{}")
/// ```
///
/// Set the environment variable `SLUICE_KEEP_TMP` to keep every directory for a post-mortem.
public struct TemporaryDirectory: Sendable {
    /// Why a directory could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// What failed, with errno's text.
        public let description: String
    }

    /// The directory.
    public let url: URL

    /// Makes `<parent>/<prefix>-XXXXXX`.
    /// - Parameters:
    ///   - prefix: The start of the directory's name.
    ///   - parent: Where to make it; the system temporary directory (`$TMPDIR`) if nil. Pass
    ///     `"/tmp"` where the path must stay short and free of spaces (lighttpd's `bin-path` is
    ///     split on whitespace, and a unix socket path holds at most 107 bytes).
    /// - Throws: `Failure` if `mkdtemp` fails.
    public init(prefix: String = "sluice-tests", in parent: String? = nil) throws {
        var base = parent ?? FileManager.default.temporaryDirectory.path
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let start = buffer.baseAddress, let result = mkdtemp(start) else { return nil }
            return String(cString: result)
        }
        guard let path else {
            throw Failure(description: "mkdtemp \(base)/\(prefix)-XXXXXX: \(String(cString: strerror(errno)))")
        }
        self.url = URL(fileURLWithPath: path, isDirectory: true)
    }

    /// The directory's path.
    public var path: String { self.url.path }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { self.url.appendingPathComponent(name).path }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let path = self.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Removes the directory and everything in it, unless `SLUICE_KEEP_TMP` is set (then it says
    /// where the directory is).
    public func remove() {
        if ProcessInfo.processInfo.environment["SLUICE_KEEP_TMP"] != nil {
            print("TemporaryDirectory: kept \(self.path)")
        } else {
            try? FileManager.default.removeItem(at: self.url)
        }
    }
}
