import Testing

@testable import ByteStrings

/// Spellings that Swift's `String ==` treats as equal but whose bytes differ, and look-alikes
/// that are different strings altogether.
enum Spellings {
    /// (configuration's spelling, another spelling whose bytes differ).
    static let canonicalPairs: [(String, String)] = [
        ("KPI", "\u{212A}PI"),  // KELVIN SIGN
        ("Köln", "Ko\u{308}ln"),  // NFC vs NFD
        ("a;b", "a\u{37E}b"),  // GREEK QUESTION MARK
        ("Å", "\u{212B}"),  // ANGSTROM SIGN
    ]
    /// Full-width forms: compatibility (NFKC) equivalents, distinct under `==` as well.
    static let fullWidth: [(String, String)] = [("KPI", "\u{FF2B}PI"), ("a;b", "a\u{FF1B}b")]
}

@Suite("ByteString: names compared as bytes")
struct ByteStringTests {
    @Test("Swift's String == merges these spellings; ByteString does not", arguments: Spellings.canonicalPairs)
    func canonicalPairsDiffer(_ pair: (String, String)) {
        // The premise: without ByteString these would be one name.
        #expect(pair.0 == pair.1)
        #expect(ByteString(pair.0) != ByteString(pair.1))
        #expect(!pair.0.bytesEqual(pair.1))
        #expect(Set([ByteString(pair.0), ByteString(pair.1)]).count == 2)
        #expect(!Set([ByteString(pair.0)]).contains(ByteString(pair.1)))
    }

    @Test("Equal bytes are equal, hash alike and order by bytes")
    func equalBytes() {
        #expect(ByteString("Köln") == ByteString("K\u{F6}ln"))
        #expect(ByteString("Köln").hashValue == ByteString("K\u{F6}ln").hashValue)
        #expect(ByteString("B") < ByteString("a"))
        #expect([ByteString("b"), "a", "B"].sorted() == ["B", "a", "b"])
    }

    @Test("bytesEqual agrees with comparing the UTF-8 arrays, for small and large strings, equal or differing in one byte")
    func bytesEqualAgreesWithArrays() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "b", "K", "\u{212A}", "ö", "o\u{308}", "\u{0}", "€", "𝄞"]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let a = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            // Half the time the same bytes (built anew, so not the same storage), else one piece changed.
            var pieces = Array(a)
            if !pieces.isEmpty, Bool.random(using: &generator) {
                pieces[Int.random(in: 0..<pieces.count, using: &generator)] = Character(alphabet.randomElement(using: &generator)!)
            }
            let b = String(pieces)
            #expect(a.bytesEqual(b) == (Array(a.utf8) == Array(b.utf8)), "\(Array(a.utf8)) vs \(Array(b.utf8))")
            #expect((ByteString(a) == ByteString(b)) == (Array(a.utf8) == Array(b.utf8)))
        }
        // A substring's copy and a string longer than the small-string form (15 bytes).
        let long = String(repeating: "x", count: 100) + "\u{212A}"
        #expect(long.bytesEqual(String(long.dropFirst(0))))
        #expect(!long.bytesEqual(String(repeating: "x", count: 100) + "K"))
        #expect("".bytesEqual(""))
    }

    @Test("Dictionary lookups by exact key never find a canonically equivalent key", arguments: Spellings.canonicalPairs)
    func exactDictionaryLookup(_ pair: (String, String)) {
        let table = [pair.0: 1]
        #expect(table[pair.1] == 1)  // the trap
        #expect(table[exactly: pair.1] == nil)
        #expect(table[exactly: pair.0] == 1)
        #expect(table.entry(exactly: pair.0)?.key.bytesEqual(pair.0) == true)
        #expect([pair.0].firstByteEqual(pair.1) == nil)
    }

    @Test("NFC check: ASCII and composed text pass; decomposed, singleton and compatibility cases as Unicode says")
    func nfc() {
        #expect(UnicodeNames.isNFC("KPI-report"))
        #expect(UnicodeNames.isNFC("Köln"))
        #expect(!UnicodeNames.isNFC("Ko\u{308}ln"))
        #expect(!UnicodeNames.isNFC("\u{212A}PI"))
        #expect(!UnicodeNames.isNFC("a\u{37E}b"))
        // Full-width letters are NFC (only NFKC folds them): distinct names, not refused ones.
        for (_, wide) in Spellings.fullWidth { #expect(UnicodeNames.isNFC(wide)) }
    }
}

@Suite struct NearestNameTests {
    @Test(
        "Typos find their name; far names and exact names find none",
        arguments: [
            ("timeout_secnds", "timeout_seconds"), ("retires", "retries"), ("neds", "needs"), ("tasks", nil), ("zzzzzzzz", nil), ("", nil),
        ] as [(String, String?)])
    func suggestion(name: String, expected: String?) {
        let known = ["timeout_seconds", "retries", "needs", "tasks", "run", "env"]
        #expect(NearestName.suggestion(for: name, among: known) == expected)
    }

    @Test("Distance counts bytes, so a Kelvin sign is three edits from K, and ties go to the first name in byte order")
    func bytes() {
        #expect(NearestName.distance(Array("K".utf8), Array("\u{212A}".utf8)) == 3)
        #expect(NearestName.suggestion(for: "ab", among: ["ac", "aa"]) == "aa")
        #expect(NearestName.suggestion(for: "x", among: []) == nil)
    }
}
