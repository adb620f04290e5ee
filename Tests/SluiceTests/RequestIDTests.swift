import Testing

@testable import Sluice

@Suite struct RequestIDTests {
    @Test("Request ids are 12 lower-case hex digits and 100,000 in a row are all different")
    func unique() {
        var seen = Set<String>()
        for _ in 0..<100_000 {
            let id = RequestID.next()
            #expect(id.utf8.count == 12 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 100_000)
    }
}
