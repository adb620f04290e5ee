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

    @Test("A logged line reaches standard error whole, as one JSON object and a line break")
    func reachesStandardError() throws {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let saved = dup(STDERR_FILENO)
        #expect(saved >= 0)
        // Other suites may log meanwhile: their lines land in the pipe too, and are skipped.
        dup2(pipeEnds[1], STDERR_FILENO)
        let marker = "probe-\(UUID().uuidString)"
        Logger(label: "test").info(marker, ["k": "v\"quoted\""])
        dup2(saved, STDERR_FILENO)
        close(saved)
        close(pipeEnds[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(pipeEnds[0], &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(pipeEnds[0])
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").filter { $0.contains(marker) }
        #expect(lines.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(lines.first.map { Array($0.utf8) } ?? [])) as? [String: String])
        #expect(object["msg"] == marker && object["k"] == "v\"quoted\"" && object["logger"] == "test" && object["level"] == "info")
    }
}
