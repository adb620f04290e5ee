/// A string that is compared, hashed and ordered by its UTF-8 bytes.
///
/// Swift's `String ==` and `Dictionary<String, …>` use canonical equivalence: `"K" == "\u{212A}"`
/// (KELVIN SIGN), and `"Köln"` equals its decomposed spelling `"Ko\u{308}ln"`. For anything an
/// access decision, a uniqueness rule or a database filter depends on, that is wrong: the store
/// and SQL compare bytes, and a task receives bytes. Names and values that decide something are
/// kept as `ByteString`s, so two spellings are the same only when their bytes are.
///
/// ```swift
/// let roles: Set<ByteString> = ["Kate"]
/// roles.contains(ByteString("\u{212A}ate"))   // false: other bytes
/// ```
public struct ByteString: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The string as given.
    public let string: String

    /// Wraps `string`; nothing is normalised.
    public init(_ string: String) { self.string = string }

    /// Wraps a literal.
    public init(stringLiteral value: String) { self.string = value }

    public var description: String { self.string }

    /// Equal when the UTF-8 bytes are equal.
    @inlinable
    public static func == (a: ByteString, b: ByteString) -> Bool { a.string.bytesEqual(b.string) }

    /// Hashes the UTF-8 bytes (and their count, so that concatenations cannot collide by design).
    public func hash(into hasher: inout Hasher) {
        // One call over the contiguous UTF-8 rather than a combine per byte (policy decisions
        // hash names on every request). `withUTF8` always yields contiguous bytes (it makes a
        // non-native copy native first), so equal bytes always hash alike.
        var string = self.string
        string.withUTF8 { bytes in
            hasher.combine(bytes.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
    }

    /// Byte order (which for UTF-8 is also code point order): stable and locale-free.
    public static func < (a: ByteString, b: ByteString) -> Bool {
        a.string.utf8.lexicographicallyPrecedes(b.string.utf8)
    }
}

extension String {
    /// Whether `self` and `other` have the same UTF-8 bytes (not merely canonical equivalence,
    /// which is what `==` checks).
    ///
    /// The counts first (constant time for native strings), then one pass over both strings'
    /// contiguous UTF-8 as buffers. Why not `utf8.elementsEqual`: it walks both views a byte at a
    /// time through `IndexingIterator` and the view's witness table, and such walks (route
    /// segments, metric labels, header names) added up to 3 % of a light request's CPU.
    /// A string without contiguous UTF-8 (bridged) is compared by walking, as before.
    @inlinable
    public func bytesEqual(_ other: String) -> Bool {
        let a = self.utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        let compared = a.withContiguousStorageIfAvailable { x in
            b.withContiguousStorageIfAvailable { y in x.elementsEqual(y) }
        }
        if let compared, let equal = compared { return equal }
        return a.elementsEqual(b)
    }
}

extension Sequence where Element == String {
    /// The first element whose bytes equal `name`'s (never a canonically equivalent spelling).
    public func firstByteEqual(_ name: String) -> String? { self.first { $0.bytesEqual(name) } }
}

extension Dictionary where Key == String {
    /// The entry stored under exactly `key`'s bytes, with the key as stored.
    ///
    /// A plain subscript would also find an entry whose key is only canonically equivalent
    /// (`"K"` for `"\u{212A}"`); this one does not.
    public func entry(exactly key: String) -> (key: String, value: Value)? {
        guard let index = self.index(forKey: key) else { return nil }
        let entry = self[index]
        return entry.key.bytesEqual(key) ? (entry.key, entry.value) : nil
    }

    /// The value stored under exactly `key`'s bytes (see `entry(exactly:)`).
    public subscript(exactly key: String) -> Value? { self.entry(exactly: key)?.value }
}
