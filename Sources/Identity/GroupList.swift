import Foundation

/// Normalises group lists. Identity providers send groups as a JSON array, or as one string
/// separated by commas or spaces (and lighttpd joins repeated headers with ", "): all of these
/// become the same set.
public enum GroupList {
    /// The groups in a string separated by commas and/or whitespace; empty items are dropped.
    public static func parse(_ text: String) -> Set<String> {
        Set(text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init))
    }

    /// The groups of an array of strings, each of which may itself hold several.
    public static func parse(_ items: [String]) -> Set<String> {
        items.reduce(into: Set<String>()) { $0.formUnion(self.parse($1)) }
    }

    /// Whether a group or user name is acceptable: non-empty, at most 256 bytes, no control
    /// characters, and in Unicode normal form C.
    ///
    /// Why NFC: Swift compares strings by canonical equivalence, so "\u{212A}ate" (KELVIN SIGN)
    /// would equal "Kate" in every role lookup. Refusing names that NFC would change leaves only
    /// strings for which canonical equality and byte equality agree.
    public static func isAcceptableName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
            && name.utf8.elementsEqual(name.precomposedStringWithCanonicalMapping.utf8)
    }
}
