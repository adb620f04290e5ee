import Postgres
import Testing

/// The name check on its own: no server needed.
struct PostgresIdentifierTests {
    @Test(
        "Lowercase ASCII letters, digits and underscores, not starting with a digit, are accepted",
        arguments: [
            "a", "_", "jobs", "job_changes", "_x9", "z0_", String(repeating: "a", count: 63),
        ])
    func accepted(_ name: String) throws {
        #expect(PostgresIdentifier.isValid(name))
        #expect(try PostgresIdentifier.quoted(name) == "\"\(name)\"")
    }

    @Test(
        "Everything else is refused, compared as bytes",
        arguments: [
            "", "A", "Jobs", "9a", "a-b", "a b", "a.b", "a\"b", "a;b", "a\u{0}", "é", "e\u{301}", "\u{212A}", "ſ", "ａ", "a\n",
            String(repeating: "a", count: 64), "a\u{200B}",
        ])
    func refused(_ name: String) {
        #expect(!PostgresIdentifier.isValid(name))
        let error = #expect(throws: PostgresError.self) { try PostgresIdentifier.quoted(name) }
        #expect(error?.kind == .invalidArgument)
    }

    @Test("The error message does not repeat the refused name")
    func messageOmitsName() {
        let hostile = "x\"; DROP TABLE jobs; --"
        let error = #expect(throws: PostgresError.self) { try PostgresIdentifier.quoted(hostile) }
        #expect(error?.description.contains("DROP") == false)
    }
}
