#if canImport(Glibc)
    import Glibc
#endif

/// A request's transport parameters (CGI variables: `REMOTE_USER`, `HTTP_*`, ...), kept as the
/// bytes they came in and looked up by name on demand.
///
/// Why not a `[String: String]`: a request carries 20–40 params and the application reads a
/// handful, so making two Strings of every one and hashing every name (7–8 % of the CPU of a
/// light request in a profile) was spent mostly on params nobody read. Here a request copies
/// its params into one byte buffer, and a lookup walks a short table of offsets.
///
/// Names are compared as bytes, never as Swift Strings (which would treat canonically
/// equivalent spellings as equal): a name a decision reads (`REMOTE_USER`) matches only itself.
/// Each name is in the table once (see `RequestReader` and `HTTPRequest.repeatedParams` for
/// names that came several times).
public struct ParamTable: Sendable, Sequence, Equatable, ExpressibleByDictionaryLiteral {
    /// Where a param's name and value sit in `bytes`.
    private struct Entry: Sendable {
        var nameStart: Int32
        var nameCount: Int32
        var valueStart: Int32
        var valueCount: Int32
    }

    private var bytes: [UInt8] = []
    private var entries: [Entry] = []

    /// An empty table.
    public init() {}

    /// A table of `params` (for tests and for requests made in code).
    public init(_ params: [String: String]) {
        for (name, value) in params { self[name] = value }
    }

    /// A table of `elements`; a name given twice keeps its last value.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self[name] = value }
    }

    /// How many params there are.
    public var count: Int { self.entries.count }

    /// Whether there are none.
    public var isEmpty: Bool { self.entries.isEmpty }

    /// The value of the param `name` (compared as bytes), or nil. Setting nil removes it.
    public subscript(name: String) -> String? {
        get {
            guard let index = self.index(of: name) else { return nil }
            return self.value(at: index)
        }
        set {
            let index = self.index(of: name)
            guard let newValue else {
                if let index { self.entries.remove(at: index) }
                return
            }
            var name = name
            var value = newValue
            let entry = name.withUTF8 { name in
                value.withUTF8 { value in self.append(name: UnsafeRawBufferPointer(name), value: UnsafeRawBufferPointer(value)) }
            }
            if let index { self.entries[index] = entry } else { self.entries.append(entry) }
        }
    }

    /// Appends a param the transport read (`name` not already in the table; see `index(ofName:)`).
    package mutating func appendNew(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        self.entries.append(self.append(name: name, value: value))
    }

    /// Removes the param at `index`.
    package mutating func remove(at index: Int) { self.entries.remove(at: index) }

    /// Reserves room for about `count` params of `bytes` bytes in all.
    package mutating func reserve(count: Int, bytes: Int) {
        self.entries.reserveCapacity(count)
        self.bytes.reserveCapacity(bytes)
    }

    /// Copies name and value into the buffer and returns where they are.
    private mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Entry {
        let nameStart = Int32(self.bytes.count)
        self.bytes.append(contentsOf: name)
        let valueStart = Int32(self.bytes.count)
        self.bytes.append(contentsOf: value)
        return Entry(nameStart: nameStart, nameCount: Int32(name.count), valueStart: valueStart, valueCount: Int32(value.count))
    }

    /// The position of the param named by `name`'s bytes, or nil.
    package func index(ofName name: UnsafeRawBufferPointer) -> Int? {
        self.bytes.withUnsafeBytes { stored in
            for (index, entry) in self.entries.enumerated() where Int(entry.nameCount) == name.count {
                if name.count == 0 || memcmp(stored.baseAddress! + Int(entry.nameStart), name.baseAddress!, name.count) == 0 {
                    return index
                }
            }
            return nil
        }
    }

    /// Whether the value at `index` is exactly `value`'s bytes.
    package func valueEquals(at index: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let entry = self.entries[index]
        guard Int(entry.valueCount) == value.count else { return false }
        guard value.count > 0 else { return true }
        return self.bytes.withUnsafeBytes { memcmp($0.baseAddress! + Int(entry.valueStart), value.baseAddress!, value.count) == 0 }
    }

    /// The value at `index` as a String (invalid UTF-8 repaired to U+FFFD, as `String(cString:)` does).
    package func value(at index: Int) -> String {
        self.string(self.entries[index].valueStart, self.entries[index].valueCount)
    }

    /// The name at `index` as a String.
    package func name(at index: Int) -> String {
        self.string(self.entries[index].nameStart, self.entries[index].nameCount)
    }

    /// The bytes at `start` as a String.
    private func string(_ start: Int32, _ count: Int32) -> String {
        self.bytes.withUnsafeBufferPointer { buffer in
            String(decoding: UnsafeBufferPointer(rebasing: buffer[Int(start)..<Int(start + count)]), as: UTF8.self)
        }
    }

    private func index(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { self.index(ofName: UnsafeRawBufferPointer($0)) }
    }

    /// Every param as (name, value), in the order they were added.
    public func makeIterator() -> some IteratorProtocol<(name: String, value: String)> {
        (0..<self.entries.count).lazy.map { (name: self.name(at: $0), value: self.value(at: $0)) }.makeIterator()
    }

    /// The params as a dictionary keyed by name (for display and tests; decisions look up by bytes).
    public var dictionary: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in self { result[name] = value }
        return result
    }

    /// The same params with the same values, in any order, compared as bytes.
    public static func == (a: ParamTable, b: ParamTable) -> Bool {
        guard a.count == b.count else { return false }
        return a.bytes.withUnsafeBytes { stored in
            a.entries.allSatisfy { entry in
                let name = UnsafeRawBufferPointer(rebasing: stored[Int(entry.nameStart)..<Int(entry.nameStart + entry.nameCount)])
                let value = UnsafeRawBufferPointer(rebasing: stored[Int(entry.valueStart)..<Int(entry.valueStart + entry.valueCount)])
                return b.index(ofName: name).map { b.valueEquals(at: $0, value) } ?? false
            }
        }
    }
}
