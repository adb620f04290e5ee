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

    /// Up to `limit` bytes from `offset`. A missing file reads as empty (the task has not written yet).
    static func read(path: String, offset: Int, limit: Int) throws -> Chunk {
        guard let handle = FileHandle(forReadingAtPath: path) else { return Chunk(bytes: [], nextOffset: offset, fileSize: 0) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let start = min(offset, size)
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: min(limit, size - start)) ?? Data()
        return Chunk(bytes: Array(data), nextOffset: start + data.count, fileSize: size)
    }

    /// Up to `limit` bytes from `offset` of a log held in memory (one stored in a shared store).
    static func read(bytes: [UInt8], offset: Int, limit: Int) -> Chunk {
        let start = min(offset, bytes.count)
        let end = start + min(limit, bytes.count - start)
        return Chunk(bytes: Array(bytes[start..<end]), nextOffset: end, fileSize: bytes.count)
    }

    /// The file's size in bytes (0 when it does not exist yet).
    static func size(path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
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
