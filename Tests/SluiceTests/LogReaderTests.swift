import Foundation
import TestSupport
import Testing

@testable import Sluice

@Suite struct LogReaderTests {
    @Test("A missing file reads as empty at the requested offset")
    func missingFile() throws {
        let chunk = try LogReader.read(path: "/nonexistent/\(UUID().uuidString).log", offset: 42, limit: 100)
        #expect(chunk.bytes.isEmpty)
        #expect(chunk.nextOffset == 42)
        #expect(chunk.fileSize == 0)
        let tail = try LogReader.tail(path: "/nonexistent/\(UUID().uuidString).log", limit: 10)
        #expect(tail.text == "")
        #expect(tail.skipped == 0)
    }

    @Test("Reading from an offset returns the rest and where to continue")
    func readFromOffset() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("t.log", "hello world\n")
        let all = try LogReader.read(path: path, offset: 0, limit: 1 << 20)
        #expect(all.bytes == Array("hello world\n".utf8))
        #expect(all.nextOffset == 12)
        #expect(all.fileSize == 12)
        let rest = try LogReader.read(path: path, offset: 6, limit: 1 << 20)
        #expect(rest.bytes == Array("world\n".utf8))
        #expect(rest.nextOffset == 12)
    }

    @Test("The limit caps one read, and the next offset continues after it")
    func limit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("t.log", "0123456789")
        let first = try LogReader.read(path: path, offset: 2, limit: 3)
        #expect(first.bytes == Array("234".utf8))
        #expect(first.nextOffset == 5)
        let next = try LogReader.read(path: path, offset: first.nextOffset, limit: 100)
        #expect(next.bytes == Array("56789".utf8))
        #expect(try LogReader.read(path: path, offset: 0, limit: 0).bytes.isEmpty)
    }

    @Test("An offset past the end reads nothing and reports the end")
    func offsetPastEnd() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("t.log", "abc")
        let chunk = try LogReader.read(path: path, offset: 1_000_000, limit: 100)
        #expect(chunk.bytes.isEmpty)
        #expect(chunk.nextOffset == 3)
        let huge = try LogReader.read(path: path, offset: Int.max, limit: 100)
        #expect(huge.bytes.isEmpty)
        #expect(huge.nextOffset == 3)
    }

    @Test("The tail returns the last bytes and how many were skipped")
    func tail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("t.log", "0123456789")
        let short = try LogReader.tail(path: path, limit: 4)
        #expect(short.text == "6789")
        #expect(short.skipped == 6)
        let whole = try LogReader.tail(path: path, limit: 100)
        #expect(whole.text == "0123456789")
        #expect(whole.skipped == 0)
    }

    @Test("Invalid UTF-8 and a tail starting inside a character decode with replacement characters")
    func invalidUTF8() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("t.log")
        try Data([0x61, 0xff, 0x62] + Array("é".utf8)).write(to: URL(fileURLWithPath: path))
        #expect(try LogReader.tail(path: path, limit: 100).text == "a\u{FFFD}bé")
        // The last byte alone is half of "é".
        #expect(try LogReader.tail(path: path, limit: 1).text == "\u{FFFD}")
    }
}
