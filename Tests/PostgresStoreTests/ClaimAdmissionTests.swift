import JobStore
import Postgres
import Testing

@testable import PostgresStore

/// The counting half of a claim's admission (`ClaimAdmission`); no server needed.
@Suite struct ClaimAdmissionTests {
    /// Feeds `candidates` (pipeline, cancel requested) in order and returns the admitted indexes.
    private static func admitted(_ admission: inout ClaimAdmission, _ candidates: [(String, Bool)]) -> [Int] {
        candidates.indices.filter { admission.admit(pipeline: candidates[$0].0, cancelRequested: candidates[$0].1) }
    }

    @Test("At most limit jobs are admitted, cancel requests always and beyond it, and then only cancel requests are asked for")
    func limit() {
        var admission = ClaimAdmission(ClaimRequest(limit: 2), owned: [:])
        #expect(!admission.onlyCancelRequested)
        #expect(Self.admitted(&admission, [("a", false), ("a", true), ("b", false), ("b", false), ("c", true)]) == [0, 1, 2, 4])
        #expect(admission.onlyCancelRequested)
        var none = ClaimAdmission(ClaimRequest(limit: -3), owned: [:])
        #expect(none.onlyCancelRequested)
        #expect(Self.admitted(&none, [("a", false), ("a", true)]) == [1])
    }

    @Test("While draining only cancel requests are admitted")
    func draining() {
        var admission = ClaimAdmission(ClaimRequest(limit: 10, draining: true), owned: [:])
        #expect(admission.onlyCancelRequested)
        #expect(Self.admitted(&admission, [("a", false), ("a", true), ("b", false), ("b", true)]) == [1, 3])
    }

    @Test("A pipeline's count starts from the jobs owned on every host and grows with what is admitted, cancel requests included")
    func concurrency() {
        var admission = ClaimAdmission(ClaimRequest(limit: 10, concurrency: ["etl": 3, "zero": 0]), owned: [Array("etl".utf8): 1])
        #expect(admission.fullPipelines == ["zero"])
        #expect(
            Self.admitted(&admission, [("etl", false), ("etl", true), ("etl", false), ("zero", false), ("zero", true), ("free", false)])
                == [0, 1, 4, 5])
        #expect(admission.fullPipelines == ["etl", "zero"])
    }

    @Test("Pipelines are told apart by their bytes: a limit on K is none on U+212A KELVIN SIGN, and their counts stay apart")
    func bytes() {
        let kelvin = "\u{212A}"
        var admission = ClaimAdmission(ClaimRequest(limit: 10, concurrency: ["K": 1]), owned: [Array(kelvin.utf8): 5])
        #expect(admission.fullPipelines.isEmpty)
        #expect(Self.admitted(&admission, [(kelvin, false), ("K", false), (kelvin, false), ("K", false)]) == [0, 1, 2])
        #expect(admission.fullPipelines.map { Array($0.utf8) } == [Array("K".utf8)])
        var other = ClaimAdmission(ClaimRequest(limit: 10, concurrency: [kelvin: 1]), owned: [Array("K".utf8): 5])
        #expect(Self.admitted(&other, [("K", false), (kelvin, false), (kelvin, false)]) == [0, 1])
    }

    @Test("The change channel is a valid identifier, stable for a schema, and differs between schemas, also byte-different ones")
    func channel() {
        let name = ChangeChannel.name(namespace: "public")
        #expect(name.utf8.count == 23 && name.hasPrefix("sluice_"))
        #expect(PostgresIdentifier.isValid(name))
        #expect(ChangeChannel.name(namespace: "public") == name)
        #expect(ChangeChannel.name(namespace: "sluice") != name)
        #expect(ChangeChannel.name(namespace: "K") != ChangeChannel.name(namespace: "\u{212A}"))
        // Pinned: every host and version must derive the same channel from the same schema.
        #expect(name == "sluice_66970823621e92e3")
    }
}
