import Foundation
import Testing

@testable import Logging

/// The log line format: what operators' log shippers parse, and what keeps user-supplied values
/// from forging records.
@Suite struct LoggerTests {
    /// Parses a line with Foundation's JSON parser (independent of the writer).
    static func parse(_ line: [UInt8]) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: String]
        return try #require(object, "not an object of strings: \(String(decoding: line, as: UTF8.self))")
    }

    @Test("A record is one JSON object: metadata and ts, level, logger, msg, members sorted by name as bytes")
    func shape() throws {
        let line = Logger.line(
            level: .warning, label: "runner", message: "lease lost", metadata: ["job.id": "7", "host": "h1", "Zeta": "z"],
            timestamp: "2026-12-04T08:14:01.374")
        let text = String(decoding: line, as: UTF8.self)
        #expect(
            text
                == #"{"Zeta":"z","host":"h1","job.id":"7","level":"warning","logger":"runner","msg":"lease lost","ts":"2026-12-04T08:14:01.374"}"#
        )
        #expect(try Self.parse(line)["msg"] == "lease lost")
    }

    @Test("Hostile values stay inside their string: newlines, quotes, backslashes and control characters are escaped")
    func hostileValues() throws {
        let hostile = "x\"}\n{\"level\":\"error\",\"msg\":\"forged\"}\r\t\u{1B}[31m\\"
        let line = Logger.line(level: .info, label: "http", message: hostile, metadata: ["user": hostile], timestamp: "t")
        #expect(!line.contains(0x0A) && !line.contains(0x0D) && !line.contains(0x1B))
        let parsed = try Self.parse(line)
        #expect(parsed["msg"] == hostile && parsed["user"] == hostile && parsed["level"] == "info")
        #expect(parsed.count == 5)
    }

    @Test("Metadata cannot replace the record's own members")
    func reservedNames() throws {
        let parsed = try Self.parse(
            Logger.line(
                level: .info, label: "http", message: "real", metadata: ["msg": "fake", "level": "error", "ts": "0", "logger": "x"],
                timestamp: "now"))
        #expect(parsed == ["msg": "real", "level": "info", "ts": "now", "logger": "http"])
    }

    @Test("The timestamp is UTC with milliseconds and no zone, and close to now")
    func timestamp() throws {
        let text = Logger.timestamp()
        #expect(text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}/) != nil, "\(text)")
        let parsed = try #require(try? Date(text + "Z", strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSinceNow) < 5, "\(text)")
    }

    @Test("A line is written whole, also when the pipe takes it in pieces (a 200 KB line through a 64 KB pipe)")
    func writtenWhole() {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let line =
            Logger.line(
                level: .info, label: "test", message: String(repeating: "x", count: 200_000), metadata: ["k": "v"], timestamp: "t")
            + [UInt8(ascii: "\n")]
        let writeEnd = ends[1]
        let writer = Thread {
            Logger.write(line, to: writeEnd)
            close(writeEnd)
        }
        writer.start()
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(ends[0], &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(ends[0])
        #expect(output == line)
    }
}
