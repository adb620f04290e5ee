import Crypto
import Foundation
import Identity
import Testing

/// `KeySet.parse` (docs/security.md, JWT checklist J1, J4, J6, J7, J12, J13, J23) on JWKS documents
/// built from mint.py's public keys.
@Suite("KeySet.parse")
struct KeySetTests {
    /// Expects `parse` to throw `.keysUnavailable`, and returns the reason.
    @discardableResult
    func expectUnavailable(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            let set = try KeySet.parse(bytes)
            Issue.record("parsed \(set.keys.count) keys, expected an error", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == .keysUnavailable, "\(error)", sourceLocation: sourceLocation)
            return error.reason
        }
    }

    @Test("A valid JWKS yields its keys, each bound to one algorithm")
    func validJWKS() throws {
        let set = try KeySet.parse(try Fixture.jwks(["ec1", "rsa1", "ec2"]))
        #expect(set.skipped.isEmpty)
        #expect(set.keys.map(\.kid) == ["ec-1", "rsa-1", "ec-2"])
        #expect(set.keys.map(\.algorithm) == [.es256, .rs256, .es256])
        #expect(set.keys[1].key.bits == 2048)
    }

    @Test("Members the loader does not use (alg, use sig, key_ops verify, x5t) are fine")
    func optionalMembers() throws {
        let minter = try Fixture.minter()
        let ec = try minter.key("ec1").jwk.replacingOccurrences(
            of: "{", with: #"{"alg":"ES256","use":"sig","key_ops":["verify"],"x5t":"abc","#)
        let set = try KeySet.parse(Array(#"{"keys":[\#(ec)],"extra":1}"#.utf8))
        #expect(set.keys.count == 1)
        #expect(set.skipped.isEmpty)
    }

    @Test("Unusable keys are skipped with a reason naming them; the usable ones are kept")
    func unusableKeysSkipped() throws {
        let minter = try Fixture.minter()
        let secret = Base64URL.encode(Array(repeating: UInt8(7), count: 32))
        let ec2 = try minter.key("ec2").jwk
        let unusable: [(kid: String, jwk: String, reason: String)] = [
            ("hs", #"{"kty":"oct","k":"\#(secret)","kid":"hs"}"#, "oct"),
            ("ec-1", try minter.key("ec1").privateJWK, "private"),
            ("rsa-1024", try minter.key("rsa1024").jwk, "1024 bits"),
            ("rsa-e3", try minter.key("rsa_e3").jwk, "65537"),
            ("ed", #"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}"#, "neither RSA nor EC"),
            ("enc", ec2.replacingOccurrences(of: "\"kid\":\"ec-2\"", with: #""kid":"enc","use":"enc""#), "use"),
            ("wrong-alg", ec2.replacingOccurrences(of: "\"kid\":\"ec-2\"", with: #""kid":"wrong-alg","alg":"RS256""#), "alg"),
            ("no-verify", ec2.replacingOccurrences(of: "\"kid\":\"ec-2\"", with: #""kid":"no-verify","key_ops":["sign"]"#), "verify"),
            ("p384", #"{"kty":"EC","crv":"P-384","x":"AA","y":"AA","kid":"p384"}"#, "P-256"),
        ]
        let set = try KeySet.parse(try Fixture.jwks(["rsa1"], extra: unusable.map(\.jwk) + [#""not a key""#]))
        #expect(set.keys.map(\.kid) == ["rsa-1"])
        try #require(set.skipped.count == unusable.count + 1)
        for (index, entry) in unusable.enumerated() {
            let reason = set.skipped[index]
            #expect(reason.contains("keys[\(index + 1)]"), "\(reason)")
            #expect(reason.contains("kid \(entry.kid)"), "\(reason)")
            #expect(reason.contains(entry.reason), "\(reason)")
        }
        #expect(set.skipped.last?.contains("not an object") == true)
        // The reasons name the rule, never key material.
        #expect(!set.skipped.joined().contains(secret))
    }

    @Test("A JWKS with only unusable keys is an error listing why")
    func allUnusable() throws {
        let minter = try Fixture.minter()
        let reason = expectUnavailable(
            Array(#"{"keys":[\#(try minter.key("rsa1024").jwk),{"kty":"oct","k":"AAAA"}]}"#.utf8))
        #expect(reason?.contains("rsa-1024") == true)
        expectUnavailable(Array(#"{"keys":[]}"#.utf8))
    }

    @Test("More than 20 keys are refused; exactly 20 are accepted")
    func tooManyKeys() throws {
        let jwk = try Fixture.minter().key("ec1").jwk
        func document(_ count: Int) -> [UInt8] {
            let keys = (0..<count).map { jwk.replacingOccurrences(of: "\"kid\":\"ec-1\"", with: "\"kid\":\"k\($0)\"") }
            return Array("{\"keys\":[\(keys.joined(separator: ","))]}".utf8)
        }
        #expect(try KeySet.parse(document(KeySet.maxKeys)).keys.count == 20)
        expectUnavailable(document(KeySet.maxKeys + 1))
    }

    @Test("A document over 64 KiB is refused")
    func tooLarge() throws {
        var bytes = try Fixture.jwks(["ec1"])
        let closing = bytes.removeLast()
        bytes += Array(repeating: UInt8(ascii: " "), count: KeySet.maxDocumentBytes - bytes.count) + [closing]
        #expect(bytes.count == KeySet.maxDocumentBytes + 1)
        expectUnavailable(bytes)
        bytes.remove(at: bytes.count - 2)
        #expect(try KeySet.parse(bytes).keys.count == 1)
    }

    @Test("Duplicate members are refused, at the top level and inside a key")
    func duplicateMembers() throws {
        let minter = try Fixture.minter()
        let ec = try minter.key("ec1").jwk
        expectUnavailable(Array(#"{"keys":[\#(ec)],"keys":[]}"#.utf8))
        let twice = ec.replacingOccurrences(of: "{", with: #"{"kty":"RSA","#)
        expectUnavailable(Array(#"{"keys":[\#(twice)]}"#.utf8))
    }

    @Test("A document that is not an object with a keys array is refused")
    func notAnObject() throws {
        for text in ["[]", #""keys""#, "null", "{}", #"{"keys":{}}"#, #"{"keys":"none"}"#, "", "{", #"{"keys":[]"#] {
            expectUnavailable(Array(text.utf8))
        }
    }
}
