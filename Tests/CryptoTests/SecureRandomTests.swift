import Crypto
import Testing

@Suite struct SecureRandomTests {
    @Test("Draws have the requested length", arguments: [0, 1, 6, 32, 1000])
    func length(count: Int) {
        #expect(SecureRandom.bytes(count).count == count)
    }

    @Test("Two 32-byte draws differ")
    func differ() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }

    @Test("A large draw is not constant")
    func notConstant() {
        let bytes = SecureRandom.bytes(4096)
        // With 4096 random bytes, seeing fewer than 200 distinct values is practically impossible.
        #expect(Set(bytes).count > 200)
    }
}
