import ByteStrings
import Foundation

/// Normalises group lists. Identity providers send groups as a JSON array, or as one string
/// separated by commas or spaces (and lighttpd joins repeated headers with ", "): all of these
/// become the same set.
public enum GroupList {
    /// The groups in a string separated by commas and/or whitespace; empty items are dropped.
    ///
    /// A list, not a set: a `Set<String>` would merge canonically equivalent names (`K-team` and
    /// `\u{212A}-team`) before `isAcceptableName` could refuse the one that is not NFC.
    public static func parse(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    /// The groups of an array of strings, each of which may itself hold several.
    public static func parse(_ items: [String]) -> [String] {
        items.flatMap { self.parse($0) }
    }

    /// Whether a group or user name is acceptable: non-empty, at most 256 bytes, no control
    /// characters, and in Unicode normal form C.
    ///
    /// Why NFC: Swift compares strings by canonical equivalence, so "\u{212A}ate" (KELVIN SIGN)
    /// would equal "Kate" in every role lookup. Refusing names that NFC would change leaves only
    /// strings for which canonical equality and byte equality agree.
    public static func isAcceptableName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
            && UnicodeNames.isNFC(name)
    }
}
