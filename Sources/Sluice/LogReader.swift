import Foundation
import HTTP

/// Reads task log files. Paths are always built by the server from a job id and a validated
/// task name; nothing from the request becomes part of a path.
enum LogReader {
    struct Chunk {
        var bytes: [UInt8]
        var nextOffset: Int
        var fileSize: Int
    }

    /// Where a read of up to `limit` bytes from `offset` starts in `size` bytes; nil: the last
    /// `limit` bytes.
    private static func start(_ offset: Int?, _ limit: Int, size: Int) -> Int {
        offset.map { min($0, size) } ?? max(0, size - limit)
    }

    /// Up to `limit` bytes from `offset` (nil: the last `limit` bytes). A missing file reads as
    /// empty (the task has not written yet).
    static func read(path: String, offset: Int?, limit: Int) throws -> Chunk {
        guard let handle = FileHandle(forReadingAtPath: path) else { return Chunk(bytes: [], nextOffset: offset ?? 0, fileSize: 0) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let start = Self.start(offset, limit, size: size)
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: min(limit, size - start)) ?? Data()
        return Chunk(bytes: Array(data), nextOffset: start + data.count, fileSize: size)
    }

    /// Up to `limit` bytes from `offset` (nil: the last `limit` bytes) of a log held in memory
    /// (one stored in a shared store).
    static func read(bytes: [UInt8], offset: Int?, limit: Int) -> Chunk {
        let start = Self.start(offset, limit, size: bytes.count)
        let end = start + min(limit, bytes.count - start)
        return Chunk(bytes: Array(bytes[start..<end]), nextOffset: end, fileSize: bytes.count)
    }

    /// The last `limit` bytes of the file (for the HTML page), and how many bytes were left out.
    static func tail(path: String, limit: Int) throws -> (text: String, skipped: Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ("", 0) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let start = max(0, size - limit)
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.readToEnd() ?? Data()
        return (String(decoding: data, as: UTF8.self), start)
    }
}
