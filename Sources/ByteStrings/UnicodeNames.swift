import Foundation

/// Checks for names that arrive from outside (requests, identity providers, configuration).
public enum UnicodeNames {
    /// Whether `text` is in Unicode normalization form C, the form every name is compared in.
    ///
    /// Why refuse other forms instead of normalising them: a name is stored and handed to tasks
    /// with the bytes it came with, and SQL compares bytes. Among NFC strings canonical
    /// equivalence and byte equality agree, so refusing the rest leaves no spelling of a name
    /// that one layer would match and another would not (`"\u{212A}PI-report"` for
    /// `"KPI-report"`, `"Ko\u{308}ln"` for `"Köln"`, U+037E for `;`).
    public static func isNFC(_ text: String) -> Bool {
        // ASCII is always NFC; skip Foundation's normaliser for the common case.
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return true }
        return text.utf8.elementsEqual(text.precomposedStringWithCanonicalMapping.utf8)
    }
}
