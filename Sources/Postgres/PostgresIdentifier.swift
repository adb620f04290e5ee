/// The one kind of name this wrapper writes into SQL text itself: a `LISTEN`/`UNLISTEN` channel,
/// which the grammar takes as an identifier, where no parameter can go.
///
/// A name is accepted only if it matches `[a-z_][a-z0-9_]*` and is at most 63 bytes long
/// (`NAMEDATALEN - 1`: the server would silently cut a longer one short, and `pg_notify` would
/// refuse it). The check is on the UTF-8 bytes, not on Swift `String`s or `Character`s: `String`
/// comparison treats canonically equivalent text as equal, and Unicode case mappings can land in
/// ASCII (U+212A KELVIN SIGN lowercases to "k"), while the server compares names byte for byte.
/// This project compares names as bytes throughout.
///
/// Accepted names are still double-quoted when written into SQL, so that a name that happens to
/// be a keyword (`user`, `select`) stays a name; with no capital letters a quoted name is the
/// same name as unquoted.
public enum PostgresIdentifier {
    /// The longest accepted name, in bytes.
    public static let maximumLength = 63

    /// Whether `name` is an accepted identifier.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= Self.maximumLength else { return false }
        guard first == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return bytes.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
    }

    /// `name` double-quoted for SQL text.
    /// - Throws: `PostgresError` of kind `.invalidArgument` if `name` is not accepted (the
    ///   message names the rule, not the name, which may be hostile).
    public static func quoted(_ name: String) throws(PostgresError) -> String {
        try Self.check(name)
        return "\"" + name + "\""
    }

    /// Throws unless `name` is accepted.
    static func check(_ name: String) throws(PostgresError) {
        guard Self.isValid(name) else {
            throw PostgresError(
                kind: .invalidArgument,
                message: "invalid name (\(name.utf8.count) bytes): names must match [a-z_][a-z0-9_]* and be at most "
                    + "\(Self.maximumLength) bytes")
        }
    }
}
