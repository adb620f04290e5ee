import Crypto
import Foundation
import Testing

@Suite struct Base64URLTests {
    @Test("RFC 4648 §10 vectors, in the URL-safe alphabet without padding")
    func rfc4648() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    @Test("Round trips agree with Foundation's base64 for lengths 0–99")
    func roundTrips() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<100 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let ours = Base64URL.encode(bytes)
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(ours == foundation)
            #expect(Base64URL.decode(ours) == bytes)
            #expect(Base64URL.decodeAllowingPadding(ours) == bytes)
            let padded = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
            #expect(Base64URL.decodeAllowingPadding(padded) == bytes)
            #expect(Base64URL.decode(padded) == (padded == ours ? bytes : nil))
        }
    }

    @Test("Strict decoding refuses everything outside the canonical form (J3)")
    func strict() {
        let refused = [
            "Zg==", "Zg=", "Zm8=", "Z=g", "=",  // padding
            "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\t", "Zm9v\r\n",  // whitespace
            "a+b/", "ab+c", "ab/c",  // the standard alphabet
            "Z", "Zm9vY", "Zm9vYmFyZ",  // length % 4 == 1
            "Zh", "Zm9", "QR", "QUJ",  // non-zero unused bits ("Zg" and "Zm8" are canonical)
            "Zm9v.", "Zm\u{0}9", "Zé9v", "Ｚm9v",  // other characters
        ]
        for text in refused {
            #expect(Base64URL.decode(text) == nil, "\(text.debugDescription)")
        }
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QUI") == [0x41, 0x42])
        #expect(Base64URL.decode("Zm9v"[...]) == Array("foo".utf8))
    }

    @Test("decodeAllowingPadding strips only padding that the length calls for")
    func padding() {
        #expect(Base64URL.decodeAllowingPadding("QQ==") == [0x41])
        #expect(Base64URL.decodeAllowingPadding("QUI=") == [0x41, 0x42])
        #expect(Base64URL.decodeAllowingPadding("QUJD") == [0x41, 0x42, 0x43])
        #expect(Base64URL.decodeAllowingPadding("QQ") == [0x41])
        #expect(Base64URL.decodeAllowingPadding("") == [])
        let refused = [
            "QQ=", "QQ===", "QUI==", "QUJD=", "QUJD==", "QUJD====", "Q===", "====", "==", "=",
            "QR==", "QUJ=",  // non-zero unused bits stay refused
            "Q=Q=", "QQ= ", " QQ==", "QQ==\n",
            "a+==", "a/8=",
        ]
        for text in refused {
            #expect(Base64URL.decodeAllowingPadding(text) == nil, "\(text.debugDescription)")
        }
    }
}
