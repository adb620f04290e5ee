import Crypto
import Testing

@Suite struct HMACTests {
    private func bytes(_ hex: String) -> [UInt8] { WycheproofFixtures.bytes(hex: hex) }

    @Test("RFC 4231 test cases 1 and 2")
    func rfc4231() {
        let tc1 = HMACSHA256.authenticate(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
        #expect(Hex.encode(tc1) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let tc2 = HMACSHA256.authenticate(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(tc2) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("An empty key and an empty message work (libcrypto needs a non-NULL key pointer)")
    func empty() {
        #expect(
            Hex.encode(HMACSHA256.authenticate(key: [], message: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("isValid accepts the tag and refuses modified, truncated and extended tags")
    func isValid() {
        let key = Array("a key of thirty-two bytes, really".utf8)
        let message = Array("message".utf8)
        let tag = HMACSHA256.authenticate(key: key, message: message)
        #expect(tag.count == HMACSHA256.tagSize)
        #expect(HMACSHA256.isValid(tag, key: key, message: message))
        #expect(!HMACSHA256.isValid(Array(tag.prefix(16)), key: key, message: message))
        #expect(!HMACSHA256.isValid(tag + [0], key: key, message: message))
        #expect(!HMACSHA256.isValid([], key: key, message: message))
        for index in tag.indices {
            var flipped = tag
            flipped[index] ^= 0x01
            #expect(!HMACSHA256.isValid(flipped, key: key, message: message))
        }
        var otherKey = key
        otherKey[0] ^= 0x01
        #expect(!HMACSHA256.isValid(tag, key: otherKey, message: message))
        // HMAC pads short keys with zero bytes to the block size, so appending 0x00 to a key
        // (shorter than 64 bytes) gives the same tag. A property of HMAC, not of this wrapper, and
        // one reason keys must be random rather than derived from text.
        #expect(HMACSHA256.isValid(tag, key: key + [0], message: message))
        #expect(!HMACSHA256.isValid(tag, key: key, message: message + [0]))
    }

    /// Every case of `hmac_sha256_test.json`. Groups with `tagSize` 128 test truncated tags: there the
    /// first 16 bytes of our tag are compared with the vector (in constant time), and `isValid`,
    /// which takes only full tags, must refuse the truncated one. No acceptable cases exist.
    @Test("hmac_sha256_test.json: every case matches")
    func wycheproof() throws {
        let file = try WycheproofFixtures.load("hmac_sha256_test.json", as: MACGroup.self)
        var tally = VectorTally(file: "hmac_sha256_test.json")
        for group in file.testGroups {
            for test in group.tests {
                tally.run += 1
                let key = bytes(test.key), message = bytes(test.msg), tag = bytes(test.tag)
                #expect(key.count * 8 == group.keySize)
                let matches: Bool
                if group.tagSize == 256 {
                    matches = HMACSHA256.isValid(tag, key: key, message: message)
                } else {
                    let full = HMACSHA256.authenticate(key: key, message: message)
                    matches = ConstantTime.equals(Array(full.prefix(group.tagSize / 8)), tag)
                    #expect(!HMACSHA256.isValid(tag, key: key, message: message))
                }
                #expect(test.result != .acceptable)
                #expect(matches == (test.result == .valid), "tc\(test.tcId)")
                if matches == (test.result == .valid) { tally.passed += 1 }
            }
        }
        print(tally)
        #expect(tally.run == file.numberOfTests)
        #expect(tally.passed == tally.run)
    }
}
