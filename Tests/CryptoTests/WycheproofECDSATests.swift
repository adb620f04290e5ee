import Testing

@testable import Crypto

/// Every case of the Wycheproof ECDSA P-256 / SHA-256 files. Neither file has `acceptable` cases;
/// each case must come out exactly as the file says.
@Suite struct WycheproofECDSATests {
    /// The JOSE form (r ‖ s, 64 bytes): keys from the JWK when the group has one, else from the
    /// uncompressed point through `PublicKey.p256`.
    @Test("ecdsa_secp256r1_sha256_p1363_test.json: every case matches")
    func p1363() throws {
        let file = try WycheproofFixtures.load("ecdsa_secp256r1_sha256_p1363_test.json", as: ECDSAGroup.self)
        var tally = VectorTally(file: "ecdsa_secp256r1_sha256_p1363_test.json")
        var viaJWK = 0
        for group in file.testGroups {
            #expect(group.publicKey.curve == "secp256r1" && group.sha == "SHA-256")
            let key: PublicKey
            if let jwk = group.publicKeyJwk {
                key = try JWK(members: WycheproofFixtures.members(jwk)).key
                viaJWK += 1
            } else {
                let point = WycheproofFixtures.bytes(hex: group.publicKey.uncompressed)
                try #require(point.count == 65 && point[0] == 0x04)
                key = try PublicKey.p256(x: Array(point[1..<33]), y: Array(point[33..<65]))
            }
            #expect(key.algorithm == .es256)
            for test in group.tests {
                tally.run += 1
                let verified = key.verify(
                    signature: WycheproofFixtures.bytes(hex: test.sig),
                    message: WycheproofFixtures.bytes(hex: test.msg),
                    algorithm: .es256)
                #expect(test.result != .acceptable, "tc\(test.tcId): no acceptable cases expected")
                #expect(verified == (test.result == .valid), "tc\(test.tcId) \(test.comment) \(test.flags)")
                if verified == (test.result == .valid) { tally.passed += 1 }
            }
        }
        tally.notes.append("\(viaJWK) of \(file.testGroups.count) keys built from the JWK")
        print(tally)
        #expect(tally.run == file.numberOfTests)
        #expect(tally.passed == tally.run)
    }

    /// The DER form: keys through `d2i_PUBKEY`, signatures handed to libcrypto unchanged. The BER
    /// variants (long-form lengths, extra zeros) must fail, because OpenSSL 3 re-encodes and compares.
    @Test("ecdsa_secp256r1_sha256_test.json (DER): every case matches")
    func der() throws {
        let file = try WycheproofFixtures.load("ecdsa_secp256r1_sha256_test.json", as: ECDSAGroup.self)
        var tally = VectorTally(file: "ecdsa_secp256r1_sha256_test.json")
        for group in file.testGroups {
            let key = try PublicKey.fromSubjectPublicKeyInfoDER(WycheproofFixtures.bytes(hex: group.publicKeyDer))
            #expect(key.algorithm == .es256 && key.bits == 256)
            for test in group.tests {
                tally.run += 1
                let verified = key.verifyDER(
                    signature: WycheproofFixtures.bytes(hex: test.sig),
                    message: WycheproofFixtures.bytes(hex: test.msg))
                #expect(test.result != .acceptable, "tc\(test.tcId): no acceptable cases expected")
                #expect(verified == (test.result == .valid), "tc\(test.tcId) \(test.comment) \(test.flags)")
                if verified == (test.result == .valid) { tally.passed += 1 }
            }
        }
        print(tally)
        #expect(tally.run == file.numberOfTests)
        #expect(tally.passed == tally.run)
    }
}
