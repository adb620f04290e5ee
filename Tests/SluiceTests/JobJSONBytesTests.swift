import Foundation
import JobStore
import Testing

@testable import Sluice

/// The hand-written job JSON must be byte for byte what `JSONEncoder` (sorted keys, unescaped
/// slashes) makes of the `Encodable` shapes, for ordinary and hostile records.
@Suite struct JobJSONBytesTests {
    static let hostile = "q\"b\\s/\n\r\t\u{0}\u{1f}\u{7f}é😀\u{2028}<script>"

    static func record(tasks: Int, hostile: Bool) -> JobRecord {
        let text = hostile ? Self.hostile : "plain"
        var job = JobRecord(
            id: 42, pipeline: "p-\(text)", state: .running, triggeredBy: text, identitySource: "remote_user",
            params: ["b": text, "a": "1", text: "x"], workingDirectory: "/w", cancelRequested: hostile,
            createdAt: Date(timeIntervalSince1970: 1_763_900_477.887), startedAt: Date(timeIntervalSince1970: 1_763_900_478.001),
            finishedAt: hostile ? Date(timeIntervalSince1970: 1_763_900_999.5) : nil, tasks: [],
            secretParameters: hostile ? ["tok", text] : [])
        let states: [TaskState] = [.queued, .running, .succeeded, .failed, .skipped, .cancelled]
        let base = 1_763_900_478.25
        var list: [TaskRecord] = []
        for i in 0..<tasks {
            let needs: [String] = i == 0 ? [] : ["t\(i - 1)", text]
            let exitCode: Int32? = i % 2 == 0 ? Int32(i) - 1 : nil
            let message: String? = i % 2 == 0 ? text : nil
            let started: Date? = i % 3 == 0 ? nil : Date(timeIntervalSince1970: base + Double(i))
            let finished: Date? = i % 4 == 0 ? Date(timeIntervalSince1970: 1_763_900_480.999) : nil
            let kind: TaskKind = i % 5 == 0 ? .noop : .command
            let name = "t\(i)" + (hostile ? text : "")
            list.append(
                TaskRecord(
                    name: name, needs: needs, argv: ["/bin/true"], state: states[i % 6], attempt: i % 3, pid: 100, exitCode: exitCode,
                    message: message, startedAt: started, finishedAt: finished, kind: kind,
                    options: TaskOptions(retry: RetryPolicy(retries: i % 4)), retryAt: Date(timeIntervalSince1970: 1_763_900_490.123)))
        }
        job.tasks = list
        return job
    }

    @Test("A job with tasks encodes to the same bytes as JSONEncoder", arguments: [false, true])
    func job(hostile: Bool) {
        let record = Self.record(tasks: 13, hostile: hostile)
        for includeTasks in [true, false] {
            let expected = JobJSON.encode(JobJSON.job(record, mountPath: "/m\(hostile ? Self.hostile : "")", includeTasks: includeTasks))
            let actual = JobJSON.bytes(record, mountPath: "/m\(hostile ? Self.hostile : "")", includeTasks: includeTasks)
            #expect(String(decoding: actual, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        }
    }

    @Test("A job list encodes to the same bytes as JSONEncoder, with either cursor")
    func list() {
        let jobs = [Self.record(tasks: 2, hostile: true), Self.record(tasks: 0, hostile: false)]
        for (before, after) in [(Int64?.some(7), Int64?.none), (nil, 9), (nil, nil)] {
            let expected = JobJSON.encode(
                JobJSON.JobList(
                    jobs: jobs.map { JobJSON.job($0, mountPath: "/m", includeTasks: false) }, next_before: before, next_after: after))
            #expect(JobJSON.listBytes(jobs, mountPath: "/m", nextBefore: before, nextAfter: after) == expected)
        }
    }

    @Test("Times are ISO 8601 UTC with milliseconds, equal to Foundation's formatting, across eras")
    func times() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -0.001, -86_400.5, 951_782_400, 4_102_444_799.999, 1_763_900_477.887, -2_208_988_800]
        for _ in 0..<2000 { samples.append(Double(Int64.random(in: -6_000_000_000_000...250_000_000_000_000, using: &generator)) / 1000) }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds)
            let milliseconds = Int64((seconds * 1000).rounded())
            let whole = Date(timeIntervalSince1970: Double(milliseconds.floorDiv(1000)))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
            let expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!,
                Int(milliseconds - milliseconds.floorDiv(1000) * 1000))
            #expect(JobJSON.time(date) == expected, "\(seconds)")
        }
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
