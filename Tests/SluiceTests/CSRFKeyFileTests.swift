import Foundation
import Identity
import Locking
import Synchronization
import TestSupport
import Testing

@testable import Sluice

#if canImport(Glibc)
    import Glibc
#endif

/// The CSRF key file in the data directory: private from its first byte, reused, never silently
/// replaced, and one key even when several processes start at once.
@Suite struct CSRFKeyFileTests {
    let alice = Principal(user: "alice", source: .remoteUser, isAmbient: true)

    static func mode(_ path: String) throws -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DirectoryWatch.Failure("stat \(path)") }
        return info.st_mode & 0o7777
    }

    @Test("Under umask 0 the key file is created 0600: no file in the data directory has its mode changed after creation")
    func createdPrivate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let watch = try DirectoryWatch(dir.path)
        let path = dir.file("csrf.key")
        _ = try PrivateUmask.run(0) { try CSRFTokens(secretPath: path) }
        #expect(try Self.mode(path) == 0o600)
        #expect(FileManager.default.contents(atPath: path)?.count == 32)
        let events = try watch.events()
        // A chmod after creation (IN_ATTRIB) means the file existed for a while with its first
        // mode: 0666 & ~umask, readable by everyone under umask 0.
        #expect(!events.contains { $0.has(IN_ATTRIB) }, "a mode changed after creation: \(events)")
        #expect(events.contains { $0.name == "csrf.key" && ($0.has(IN_CREATE) || $0.has(IN_MOVED_TO)) }, "\(events)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["csrf.key"], "no temporary file is left")
    }

    @Test("An existing key file is reused and left unchanged")
    func reused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("csrf.key")
        let key = [UInt8](repeating: 9, count: 32)
        try Data(key).write(to: URL(fileURLWithPath: path))
        let token = CSRFTokens(secret: key).token(for: self.alice, action: "a")
        #expect(try CSRFTokens(secretPath: path).isValid(token, for: self.alice, action: "a"))
        #expect(FileManager.default.contents(atPath: path).map(Array.init) == key)
    }

    @Test("A key file of the wrong size is refused with an error naming the file, and left as it is", arguments: [0, 1, 16, 31, 33, 64])
    func wrongSize(size: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("csrf.key")
        let content = Data(repeating: 5, count: size)
        try content.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: (any Error).self) { try CSRFTokens(secretPath: path) }
        #expect(error.map { "\($0)".contains(path) && "\($0)".contains("\(size) bytes") } == true, "\(String(describing: error))")
        #expect(FileManager.default.contents(atPath: path) == content)
    }

    @Test("A key path that is not a regular file is refused")
    func notAFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("csrf.key")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect(throws: (any Error).self) { try CSRFTokens(secretPath: path) }
    }

    @Test("Several creators racing for a missing key file all end with the one key in the file")
    func race() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for round in 0..<40 {
            let path = dir.file("csrf-\(round).key")
            let results = Locked<[Int: CSRFTokens]>([:])
            DispatchQueue.concurrentPerform(iterations: 6) { i in
                if let tokens = try? CSRFTokens(secretPath: path) { results.withLock { $0[i] = tokens } }
            }
            let all = results.withLock { Array($0.values) }
            #expect(all.count == 6, "every creator got a key")
            let token = try CSRFTokens(secretPath: path).token(for: self.alice, action: "a")
            let agreeing = all.filter { $0.isValid(token, for: self.alice, action: "a") }.count
            #expect(agreeing == all.count, "round \(round): \(all.count - agreeing) creator(s) kept a key that is not the file's")
            if agreeing != all.count { break }
        }
    }
}
