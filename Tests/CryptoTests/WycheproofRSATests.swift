import Testing

@testable import Crypto

/// Every case of the Wycheproof RSASSA-PKCS1-v1_5 / SHA-256 files for 2048- and 3072-bit keys.
///
/// Decisions, made explicitly:
/// - `acceptable` (tc8 in both files, flag `MissingNull`: a DigestInfo without the NULL
///   parameters): we require it to be **rejected**. RFC 8017 §9.2 allows only the encoding with
///   NULL, libcrypto's strict DigestInfo check rejects it, and accepting two encodings of one
///   signature buys nothing (docs/security.md, JWT checklist J16).
/// - Groups whose key has `e = 3` (flag `SmallPublicKey`; tc258/tc259 in the 2048 file, tc259 in
///   the 3072 file, all `valid`): our key policy (J12) requires `e == 65537`, so the key itself is
///   refused with `weakKey` and the signature is never checked. These are counted separately.
@Suite struct WycheproofRSATests {
    @Test(
        "rsa_signature_{2048,3072}_sha256_test.json: every case matches or is a documented policy refusal",
        arguments: [("rsa_signature_2048_sha256_test.json", 2048), ("rsa_signature_3072_sha256_test.json", 3072)])
    func file(name: String, bits: Int) throws {
        let file = try WycheproofFixtures.load(name, as: RSAGroup.self)
        var tally = VectorTally(file: name)
        var policyRefused: [Int] = []
        var acceptable: [Int] = []
        for group in file.testGroups {
            #expect(group.keySize == bits && group.sha == "SHA-256")
            let key: PublicKey
            do {
                key = try JWK(members: WycheproofFixtures.members(group.keyJwk)).key
            } catch {
                // Only the small-exponent keys may be refused, and only by the exponent rule.
                #expect(error.code == .weakKey, "\(error)")
                #expect(group.keyJwk["e"] == .string("Aw"))
                for test in group.tests {
                    tally.run += 1
                    #expect(test.flags.contains("SmallPublicKey"), "tc\(test.tcId) refused by key policy")
                    if test.flags.contains("SmallPublicKey") && error.code == .weakKey { tally.passed += 1 }
                    policyRefused.append(test.tcId)
                }
                continue
            }
            #expect(key.algorithm == .rs256 && key.bits == bits)
            // The same key through the DER route must give the same verdicts.
            let spki = try PublicKey.fromSubjectPublicKeyInfoDER(WycheproofFixtures.bytes(hex: group.publicKeyDer))
            for test in group.tests {
                tally.run += 1
                let signature = WycheproofFixtures.bytes(hex: test.sig)
                let message = WycheproofFixtures.bytes(hex: test.msg)
                let verified = key.verify(signature: signature, message: message, algorithm: .rs256)
                #expect(spki.verify(signature: signature, message: message, algorithm: .rs256) == verified)
                // An RSA key never verifies ES256, whatever the bytes.
                #expect(!key.verify(signature: signature, message: message, algorithm: .es256))
                let expected: Bool
                switch test.result {
                case .valid: expected = true
                case .invalid: expected = false
                case .acceptable:
                    // See the type comment: MissingNull is rejected.
                    #expect(test.flags == ["MissingNull"], "tc\(test.tcId): unexpected acceptable case")
                    acceptable.append(test.tcId)
                    expected = false
                }
                #expect(verified == expected, "tc\(test.tcId) \(test.comment) \(test.flags)")
                if verified == expected { tally.passed += 1 }
            }
        }
        tally.notes.append("acceptable rejected: tc\(acceptable.map(String.init).joined(separator: ",tc"))")
        tally.notes.append("refused by key policy e=3: tc\(policyRefused.map(String.init).joined(separator: ",tc"))")
        print(tally)
        #expect(tally.run == file.numberOfTests)
        #expect(tally.passed == tally.run)
        #expect(acceptable == [8])
        #expect(policyRefused == (bits == 2048 ? [258, 259] : [259]))
    }
}
