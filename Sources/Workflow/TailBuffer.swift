/// A ring buffer that keeps the last `capacity` bytes appended to it, and nothing more.
///
/// Storage is allocated on the first append, so a task that never gets past the log's head
/// costs no tail memory.
struct TailBuffer {
    /// The most bytes kept.
    let capacity: Int
    private var storage: [UInt8] = []
    /// Index of the oldest byte kept.
    private var start = 0
    /// How many bytes are kept (at most `capacity`).
    private(set) var count = 0

    /// An empty buffer keeping up to `capacity` bytes (none if `capacity` is 0 or less).
    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Appends `bytes`, dropping the oldest bytes beyond `capacity`.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard self.capacity > 0, !bytes.isEmpty else { return }
        if self.storage.isEmpty { self.storage = [UInt8](repeating: 0, count: self.capacity) }
        var rest = bytes
        if rest.count >= self.capacity {
            // Only the last `capacity` bytes can survive: start over with exactly those.
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.count - self.capacity)...])
            self.start = 0
            self.count = 0
        }
        let incoming = rest.count
        let dropped = max(0, self.count + incoming - self.capacity)
        var end = (self.start + self.count) % self.capacity
        self.storage.withUnsafeMutableBytes { ring in
            while !rest.isEmpty {
                let n = min(rest.count, self.capacity - end)
                ring.baseAddress!.advanced(by: end).copyMemory(from: rest.baseAddress!, byteCount: n)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                end = (end + n) % self.capacity
            }
        }
        self.count += incoming - dropped
        self.start = (self.start + dropped) % self.capacity
    }

    /// Calls `body` with the kept bytes, oldest first, as two pieces (the second may be empty)
    /// because the ring wraps around.
    func withContents<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try self.storage.withUnsafeBytes { ring in
            let firstCount = min(self.count, self.capacity - self.start)
            let first = UnsafeRawBufferPointer(rebasing: ring[self.start..<(self.start + firstCount)])
            let second = UnsafeRawBufferPointer(rebasing: ring[0..<(self.count - firstCount)])
            return try body(first, second)
        }
    }
}
