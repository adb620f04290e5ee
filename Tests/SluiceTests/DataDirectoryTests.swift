import Foundation
import TestSupport
import Testing

@testable import Sluice

#if canImport(Glibc)
    import Glibc
#endif

/// The data directory holds the job store, the task logs and the CSRF key.
@Suite struct DataDirectoryTests {
    static func mode(_ path: String) throws -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DirectoryWatch.Failure("stat \(path)") }
        return info.st_mode & 0o7777
    }

    @Test("Under umask 0 the data directory, its missing parents and logs are created 0750, never chmod'ed afterwards")
    func createdPrivate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let watch = try DirectoryWatch(dir.path)
        let data = dir.file("a/b/data")
        try PrivateUmask.run(0) {
            try DataDirectory.create(data)
            try DataDirectory.create(data + "/logs")
        }
        for path in [dir.file("a"), dir.file("a/b"), data, data + "/logs"] {
            #expect(try Self.mode(path) == 0o750, "\(path)")
        }
        // A chmod after mkdir (IN_ATTRIB) means the directory was first 0777 & ~umask.
        let events = try watch.events()
        #expect(events.contains { $0.name == "a" && $0.has(IN_CREATE) })
        #expect(!events.contains { $0.has(IN_ATTRIB) }, "a mode changed after creation: \(events)")
        try DataDirectory.create(data)  // already there: not an error
    }

    @Test("Creating a data directory where a file is fails with the path in the error")
    func createOverFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("data", "not a directory")
        let error = #expect(throws: (any Error).self) { try DataDirectory.create(path) }
        #expect(error.map { "\($0)".contains(path) } == true)
    }

    @Test(
        "A data directory that others may read or that group or others may write is warned about",
        arguments: [
            (0o755, "world-readable"), (0o775, "group-writable"), (0o757, "world-writable"), (0o777, "world-writable"),
            (0o1777, "world-writable"), (0o770, "group-writable"), (0o704, "world-readable"),
        ])
    func warned(mode: Int, fragment: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = dir.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        #expect(chmod(data, mode_t(mode)) == 0)
        let warnings = DataDirectory.warnings(data)
        #expect(warnings.count == 1)
        ConfigLoaderTests.expectProblem(warnings, at: "server.data_dir", containing: fragment)
        ConfigLoaderTests.expectProblem(warnings, at: "server.data_dir", containing: data)
    }

    @Test("0750, 0700, 0751 (others may pass, not list) and a missing directory give no warning", arguments: [0o750, 0o700, 0o751, 0o710])
    func notWarned(mode: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = dir.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        #expect(chmod(data, mode_t(mode)) == 0)
        #expect(DataDirectory.warnings(data).isEmpty)
        #expect(DataDirectory.warnings(dir.file("missing")).isEmpty)
    }
}
