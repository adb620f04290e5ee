import Foundation
import JobStore
import Testing

/// The column encodings every store writes: round trips, the exact text, and what earlier
/// versions wrote.
@Suite struct ColumnEncodingTests {
    @Test("String arrays round-trip through their column text, which is always valid JSON of the same strings")
    func stringArrays() throws {
        for array in Fixtures.awkwardArrays {
            let text = try StringArrayColumn.encode(array)
            let decoded = try StringArrayColumn.decode(text)
            #expect(bytes(decoded) == bytes(array), "\(array) stored as \(text.debugDescription)")
            let json = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
            #expect(json.map(bytes) == bytes(array), "\(text.debugDescription) is JSON of the same strings")
        }
    }

    @Test("Plain strings take the compact form; the empty array is []")
    func compactForm() throws {
        #expect(try StringArrayColumn.encode([]) == "[]")
        #expect(try StringArrayColumn.encode(["a", "b", "c"]) == #"["a","b","c"]"#)
        #expect(try StringArrayColumn.encode([""]) == #"[""]"#)
        #expect(try StringArrayColumn.encode(["ü ✓ 🚀", "/bin/sh"]) == #"["ü ✓ 🚀","/bin/sh"]"#)
    }

    @Test("Arrays written by Foundation's coders (escaped slashes, spaces) still decode; anything else throws")
    func legacyAndInvalid() throws {
        #expect(try StringArrayColumn.decode(#"["\/bin\/sh","-c","echo \"hi\""]"#) == ["/bin/sh", "-c", "echo \"hi\""])
        #expect(try StringArrayColumn.decode(#"[ "left", "right" ]"#) == ["left", "right"])
        #expect(try StringArrayColumn.decode(#"["left","right"]"#) == ["left", "right"])
        #expect(throws: (any Error).self) { try StringArrayColumn.decode("not json") }
        #expect(throws: (any Error).self) { try StringArrayColumn.decode("[1,2]") }
        #expect(throws: (any Error).self) { try StringArrayColumn.decode(#"{"a":"b"}"#) }
    }

    @Test("Parameters are a JSON object with sorted keys and round-trip exactly; non-strings are refused")
    func params() throws {
        #expect(try ParamsColumn.encode([:]) == "{}")
        #expect(try ParamsColumn.encode(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
        let hostile = ["'; DROP": "x\"y\\z\n", "e\u{301}": "\u{E9}", "": "", "🚀": "\u{1}\u{2028}"]
        let decoded = try ParamsColumn.decode(try ParamsColumn.encode(hostile))
        #expect(bytes(decoded.keys.sorted()) == bytes(hostile.keys.sorted()))
        #expect(bytes(hostile.keys.sorted().map { decoded[$0] ?? "-" }) == bytes(hostile.keys.sorted().map { hostile[$0]! }))
        #expect(try ParamsColumn.decode("{}") == [:])
        // Sorted by name as bytes: "Z" (0x5a) < "a" < "ab" < "z" < "é" (0xc3 0xa9).
        #expect(
            try ParamsColumn.encode(["é": "1", "z": "2", "ab": "5", "a": "3", "Z": "4"]) == #"{"Z":"4","a":"3","ab":"5","z":"2","é":"1"}"#)
        #expect(try ParamsColumn.encode(["path": "a/b", "q": "\u{1}"]) == #"{"path":"a/b","q":"\u0001"}"#)
        // Rows written by JSONEncoder (which escaped "/") read back the same.
        #expect(try ParamsColumn.decode(#"{"a\/b":"c\/d"}"#) == ["a/b": "c/d"])
        #expect(throws: (any Error).self) { try ParamsColumn.decode(#"{"a":1}"#) }
        #expect(throws: (any Error).self) { try ParamsColumn.decode(#"["a"]"#) }
        #expect(throws: (any Error).self) { try ParamsColumn.decode("{") }
    }

    @Test("Task options: the defaults are stored as nothing, others as sorted-key JSON that round-trips")
    func taskOptions() throws {
        #expect(try TaskOptionsColumn.encode(.standard) == nil)
        #expect(try TaskOptionsColumn.decode(nil) == .standard)
        let options = TaskOptions(
            retry: RetryPolicy(retries: 2), timeout: 1.5, environment: ["B": "\"", "A": "\n"], workingDirectory: "/w",
            creates: "/done", resources: ["db": 1])
        let text = try #require(try TaskOptionsColumn.encode(options))
        #expect(try TaskOptionsColumn.decode(text) == options)
        #expect(text.hasPrefix(#"{"creates":"#))
        #expect(text.contains(#""environment":{"A":"\n","B":"\""},"resources":{"db":1},"retry":{"#))
        #expect(throws: (any Error).self) { try TaskOptionsColumn.decode("{}") }
    }

    @Test("Audit decisions are allow and deny")
    func auditDecision() {
        #expect(AuditDecisionColumn.encode(true) == "allow")
        #expect(AuditDecisionColumn.encode(false) == "deny")
        #expect(AuditDecisionColumn.decode("allow"))
        #expect(!AuditDecisionColumn.decode("deny"))
        #expect(!AuditDecisionColumn.decode(nil))
        #expect(!AuditDecisionColumn.decode("Allow"))
    }

    @Test("Times are whole milliseconds since the epoch, rounded to the nearest, before the epoch too")
    func storedTime() {
        #expect(StoredTime.milliseconds(Date(timeIntervalSince1970: 0)) == 0)
        #expect(StoredTime.milliseconds(Date(timeIntervalSince1970: 1_700_000_000.1234)) == 1_700_000_000_123)
        #expect(StoredTime.milliseconds(Date(timeIntervalSince1970: 1_700_000_000.1236)) == 1_700_000_000_124)
        #expect(StoredTime.milliseconds(Date(timeIntervalSince1970: -1.5)) == -1500)
        #expect(StoredTime.date(milliseconds: 1_700_000_000_123) == Date(timeIntervalSince1970: 1_700_000_000.123))
        let rounded = StoredTime.rounded(Date(timeIntervalSince1970: 1_700_000_000.123_456))
        #expect(rounded == Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(StoredTime.rounded(rounded) == rounded)
    }
}
