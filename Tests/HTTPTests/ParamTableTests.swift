import HTTP
import Testing

/// `ParamTable`: a request's params, looked up by name as bytes.
@Suite("ParamTable keeps params as bytes and finds them by exact name")
struct ParamTableTests {
    @Test("Set, replace and remove; the count follows; iteration gives every pair in the order added")
    func editing() {
        var table = ParamTable()
        #expect(table.isEmpty)
        table["A"] = "1"
        table["B"] = "2"
        table["A"] = "3"
        #expect(table["A"] == "3" && table["B"] == "2" && table.count == 2)
        #expect(table.map(\.name) == ["A", "B"])
        #expect(table.map(\.value) == ["3", "2"])
        table["A"] = nil
        #expect(table["A"] == nil && table.count == 1)
        table["C"] = nil
        #expect(table.count == 1)
        table[""] = ""
        #expect(table[""] == "" && table.count == 2)
    }

    @Test("The Kelvin sign is not K, and Å composed is not Å decomposed: names and values are compared as bytes")
    func bytes() {
        let table: ParamTable = ["K": "kelvin?", "\u{00C5}": "composed"]
        #expect(table["\u{212A}"] == nil)
        #expect(table["A\u{030A}"] == nil)
        #expect(table["\u{00C5}"] == "composed")
        #expect(ParamTable(["X": "\u{00C5}"]) != ParamTable(["X": "A\u{030A}"]))
    }

    @Test("Equality ignores order and needs the same names with the same values; the dictionary view round-trips")
    func equality() {
        let a: ParamTable = ["A": "1", "B": "2"]
        var b = ParamTable()
        b["B"] = "2"
        b["A"] = "1"
        #expect(a == b)
        b["A"] = "x"
        #expect(a != b)
        #expect(a != ["A": "1"])
        #expect(ParamTable(a.dictionary) == a)
        #expect(a.dictionary == ["A": "1", "B": "2"])
    }
}
