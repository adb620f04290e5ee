import Foundation
import HTTP
import Testing

@testable import FastCGI

/// `RequestReader.params`: libfcgi's `NAME=VALUE` array into a `ParamTable`, repeated names apart.
@Suite("The FastCGI params of a request are copied as bytes, each name once")
struct RequestReaderTests {
    /// Calls `body` with a NULL-terminated array of C strings, as libfcgi's `envp` is.
    static func withEnvironment<T>(_ entries: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        let strings: [UnsafeMutablePointer<CChar>] = entries.map { bytes in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, byte) in bytes.enumerated() { pointer[i] = CChar(bitPattern: byte) }
            pointer[bytes.count] = 0
            return pointer
        }
        defer { strings.forEach { $0.deallocate() } }
        var array: [UnsafeMutablePointer<CChar>?] = strings + [nil]
        return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    static func read(_ entries: [String]) -> RequestReader.Params {
        self.withEnvironment(entries.map { Array($0.utf8) }) { RequestReader.params($0) }
    }

    @Test("Every param is found by its name; a missing one is nil; no = means an empty value; = inside a value stays")
    func plain() {
        let params = Self.read(["REQUEST_METHOD=GET", "REMOTE_USER=alice", "EMPTY=", "NOEQUALS", "QUERY_STRING=a=b&c=d"]).single
        #expect(params["REQUEST_METHOD"] == "GET")
        #expect(params["REMOTE_USER"] == "alice")
        #expect(params["EMPTY"] == "")
        #expect(params["NOEQUALS"] == "")
        #expect(params["QUERY_STRING"] == "a=b&c=d")
        #expect(params["REMOTE_USE"] == nil && params["REMOTE_USERS"] == nil && params["remote_user"] == nil)
        #expect(params.count == 5)
    }

    @Test("A name twice with the same value is one param; with different values both go apart, in order, and a third joins them")
    func repeated() {
        let read = Self.read(["HTTP_X_A=1", "HTTP_HOST=h", "HTTP_X_A=1", "REMOTE_USER=a", "REMOTE_USER=b", "REMOTE_USER=a"])
        #expect(read.single["HTTP_X_A"] == "1")
        #expect(read.single["HTTP_HOST"] == "h")
        #expect(read.single["REMOTE_USER"] == nil, "a decision must not pick one of several values")
        #expect(read.repeated == ["REMOTE_USER": ["a", "b", "a"]])
        #expect(read.single.count == 2)
    }

    @Test("Names and values are compared as bytes: canonically equivalent spellings are different names and different values")
    func bytes() {
        // "Å" as one code point and as A + combining ring: equal as Swift Strings, not as bytes.
        let read = Self.read(["N\u{00C5}=1", "NA\u{030A}=2", "V=\u{00C5}", "V=A\u{030A}"])
        #expect(read.single["N\u{00C5}"] == "1")
        #expect(read.single["NA\u{030A}"] == "2")
        #expect(read.single["V"] == nil)
        #expect(read.repeated["V"]?.count == 2)
    }

    @Test("Invalid UTF-8 in a value is repaired to U+FFFD, never dropped or crashing")
    func invalidUTF8() {
        let params = Self.withEnvironment([Array("X=a".utf8) + [0xFF, 0xC3] + Array("b".utf8)]) { RequestReader.params($0) }.single
        #expect(params["X"] == "a\u{FFFD}\u{FFFD}b")
    }

    @Test("No array at all, an empty one, and 2,000 params of 1 KB each")
    func sizes() {
        #expect(RequestReader.params(nil).single.isEmpty)
        #expect(Self.read([]).single.isEmpty)
        let many = (0..<2000).map { "P\($0)=" + String(repeating: "v", count: 1024) }
        let params = Self.read(many).single
        #expect(params.count == 2000)
        #expect(params["P1999"]?.utf8.count == 1024)
        #expect(params["P0"] == String(repeating: "v", count: 1024))
    }
}
