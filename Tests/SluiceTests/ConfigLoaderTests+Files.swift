import Foundation
import TestSupport
import Testing

@testable import Sluice

extension ConfigLoaderTests {
    @Test("A file is loaded with its directory as the anchor for relative paths")
    func loadFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("sluice.json5", "{ server: { data_dir: 'state' }, \(Self.minimal) }")
        let config = try ConfigLoader.load(path: path)
        #expect(config.directory == dir.path)
        #expect(config.server.dataDirectory.hasSuffix("/state"))
        #expect(config.server.dataDirectory.hasPrefix("/"))
        #expect(config.pipelineNames == ["p"])
    }

    @Test("A missing file, or a directory, is refused with one problem naming the file and why")
    func unreadable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for (path, why) in [(dir.file("absent.json5"), "No such file or directory"), (dir.path, "it is a directory")] {
            do {
                _ = try ConfigLoader.load(path: path)
                Issue.record("accepted \(path)")
            } catch {
                #expect(error.file == path)
                #expect(error.problems == [ConfigProblem(path: "", message: "cannot read the file: \(why)")])
            }
        }
    }

    @Test("Problems print in line order, those without a line last")
    func problemsByLine() throws {
        let error = ConfigError(
            file: "f",
            problems: [
                ConfigProblem(path: "b", message: "x", line: 9), ConfigProblem(path: "c", message: "y"),
                ConfigProblem(path: "a", message: "z", line: 2), ConfigProblem(path: "d", message: "w", line: 9),
            ])
        #expect(error.description == "f:2: a: z\nf:9: b: x\nf:9: d: w\nf: c: y")
    }

    @Test("A file larger than the cap is refused before it is parsed")
    func oversizedFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = "{ \(Self.minimal) }"
        let padding = String(repeating: " ", count: ConfigLoader.maxFileBytes + 1 - text.utf8.count)
        let path = try dir.write("big.json5", text + padding)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == ConfigLoader.maxFileBytes + 1)
        do {
            _ = try ConfigLoader.load(path: path)
            Issue.record("an oversized file was accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.message.contains("larger than \(ConfigLoader.maxFileBytes) bytes") == true)
        }
    }

    @Test("A file of exactly the cap is read")
    func fileAtCap() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = "{ \(Self.minimal) }"
        let path = try dir.write("cap.json5", text + String(repeating: " ", count: ConfigLoader.maxFileBytes - text.utf8.count))
        #expect(try ConfigLoader.load(path: path).pipelineNames == ["p"])
    }

    @Test("The hash is the SHA-256 of the file's bytes and changes when the file changes")
    func hashChanges() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let original = #"{ pipelines: { p: { tasks: { t: { run: ["/bin/true"] } } } } }"#
        let path = try dir.write("sluice.json5", original)
        let first = try ConfigLoader.load(path: path).hash
        #expect(first == "b817e7eab8b61f4c6627cb4a129302a696a8515d6693f248ccbd74daaed8b522")
        try dir.write("sluice.json5", original + "\n// a comment changes nothing but the bytes\n")
        let second = try ConfigLoader.load(path: path).hash
        #expect(second != first)
        try dir.write("sluice.json5", original)
        #expect(try ConfigLoader.load(path: path).hash == first)
        #expect(try Self.load(original).hash == first)
    }
}
