import Foundation
import TestSupport
import Testing

@testable import Crypto

/// Keys and signatures made at test time by an independent implementation: the `openssl`
/// command line tool. Its DER signatures and SubjectPublicKeyInfo structures are taken apart here
/// in test code only (the production code never parses or builds ASN.1 by hand).
@Suite(.serialized) struct OpenSSLInteropTests {
    /// A temporary directory with helpers to run `openssl` in it.
    final class Workspace {
        let directory: TemporaryDirectory

        init() throws {
            self.directory = try TemporaryDirectory(prefix: "sluice-crypto")
        }

        deinit { self.directory.remove() }

        func path(_ name: String) -> String { self.directory.file(name) }

        /// Runs `openssl` with `arguments`; returns its standard output; throws on a non-zero exit.
        @discardableResult
        func openssl(_ arguments: String...) throws -> Data {
            let result = try ChildProcess.run("/usr/bin/env", ["openssl"] + arguments, directory: self.directory.path)
            guard result.exitCode == 0 else {
                throw InteropError(message: "openssl \(arguments.joined(separator: " ")) exited \(result.status)")
            }
            return result.standardOutput
        }

        func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: self.path(name))) }
        func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: self.path(name)))) }
    }

    struct InteropError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` → 64-byte r ‖ s (short-form lengths suffice for P-256).
    static func rawSignature(fromDER der: [UInt8]) throws -> [UInt8] {
        func integer(at offset: Int) throws -> (value: [UInt8], next: Int) {
            guard offset + 2 <= der.count, der[offset] == 0x02 else { throw InteropError(message: "expected INTEGER") }
            let length = Int(der[offset + 1])
            guard length < 0x80, offset + 2 + length <= der.count else { throw InteropError(message: "bad INTEGER length") }
            var value = Array(der[(offset + 2)..<(offset + 2 + length)])
            while value.count > 32, value.first == 0 { value.removeFirst() }
            guard value.count <= 32 else { throw InteropError(message: "INTEGER too long") }
            return ([UInt8](repeating: 0, count: 32 - value.count) + value, offset + 2 + length)
        }
        guard der.count >= 8, der[0] == 0x30, Int(der[1]) == der.count - 2 else { throw InteropError(message: "expected SEQUENCE") }
        let r = try integer(at: 2)
        let s = try integer(at: r.next)
        guard s.next == der.count else { throw InteropError(message: "trailing bytes") }
        return r.value + s.value
    }

    @Test("P-256 keys and ES256 signatures from the openssl tool verify; tampered ones do not")
    func p256() throws {
        let ws = try Workspace()
        try ws.openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ec.pem")
        try ws.openssl("ec", "-in", "ec.pem", "-pubout", "-outform", "DER", "-out", "ec.der")
        let spki = try ws.read("ec.der")
        try #require(spki.count == 91 && spki[26] == 0x04)
        let point = Array(spki.suffix(64))
        let key = try PublicKey.p256(x: Array(point.prefix(32)), y: Array(point.suffix(32)))
        let jwk = try JWK(members: [
            "kty": "EC", "crv": "P-256",
            "x": .string(Base64URL.encode(point.prefix(32))), "y": .string(Base64URL.encode(point.suffix(32))),
        ])
        let fromDER = try PublicKey.fromSubjectPublicKeyInfoDER(spki)
        #expect(throws: CryptoError.self) { try PublicKey.fromSubjectPublicKeyInfoDER(spki + [0]) }
        #expect(throws: CryptoError.self) { try PublicKey.fromSubjectPublicKeyInfoDER(Array(spki.dropLast())) }

        // Sixteen messages: about one signature in 128 has an r or s with a leading zero byte,
        // which is where hand-written r ‖ s → DER converters go wrong. Wycheproof covers it for sure.
        for round in 0..<16 {
            let message = Array("message \(round) signed by openssl".utf8)
            try ws.write("msg.bin", message)
            try ws.openssl("dgst", "-sha256", "-sign", "ec.pem", "-out", "sig.der", "msg.bin")
            let der = try ws.read("sig.der")
            let raw = try Self.rawSignature(fromDER: der)
            #expect(key.verify(signature: raw, message: message, algorithm: .es256))
            #expect(jwk.key.verify(signature: raw, message: message, algorithm: .es256))
            #expect(fromDER.verify(signature: raw, message: message, algorithm: .es256))
            #expect(key.verifyDER(signature: der, message: message))
            // The DER form is not a JOSE signature.
            #expect(!key.verify(signature: der, message: message, algorithm: .es256))
            var tampered = raw
            tampered[Int(round) * 4] ^= 0x80
            #expect(!key.verify(signature: tampered, message: message, algorithm: .es256))
            #expect(!key.verify(signature: raw, message: message + [0], algorithm: .es256))
            #expect(!key.verify(signature: raw, message: message, algorithm: .rs256))
        }
    }

    @Test("RSA-2048 keys and RS256 signatures from the openssl tool verify; tampered ones do not")
    func rsa2048() throws {
        let ws = try Workspace()
        try ws.openssl("genrsa", "-out", "rsa.pem", "2048")
        try ws.openssl("rsa", "-in", "rsa.pem", "-pubout", "-outform", "DER", "-out", "rsa.der")
        let modulusLine = String(
            decoding: try ws.openssl("rsa", "-pubin", "-inform", "DER", "-in", "rsa.der", "-modulus", "-noout"), as: UTF8.self)
        let hex = modulusLine.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(hex.hasPrefix("Modulus="))
        let modulus = WycheproofFixtures.bytes(hex: String(hex.dropFirst("Modulus=".count)))
        try #require(modulus.count == 256 && modulus[0] >= 0x80)
        let key = try PublicKey.rsa(modulus: modulus, exponent: [0x01, 0x00, 0x01])
        let fromDER = try PublicKey.fromSubjectPublicKeyInfoDER(try ws.read("rsa.der"))
        #expect(key.bits == 2048 && fromDER.bits == 2048)

        let message = Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9".utf8)
        try ws.write("msg.bin", message)
        try ws.openssl("dgst", "-sha256", "-sign", "rsa.pem", "-out", "sig.bin", "msg.bin")
        let signature = try ws.read("sig.bin")
        try #require(signature.count == 256)
        #expect(key.verify(signature: signature, message: message, algorithm: .rs256))
        #expect(fromDER.verify(signature: signature, message: message, algorithm: .rs256))
        #expect(!key.verify(signature: signature, message: message, algorithm: .es256))
        #expect(!key.verify(signature: Array(signature.dropLast()), message: message, algorithm: .rs256))
        #expect(!key.verify(signature: [0] + signature, message: message, algorithm: .rs256))
        var tampered = signature
        tampered[100] ^= 0x04
        #expect(!key.verify(signature: tampered, message: message, algorithm: .rs256))
        #expect(!key.verify(signature: signature, message: Array(message.dropLast()), algorithm: .rs256))

        // PSS is a different scheme: an RS256 verifier must not accept it.
        try ws.openssl("dgst", "-sha256", "-sign", "rsa.pem", "-sigopt", "rsa_padding_mode:pss", "-out", "pss.bin", "msg.bin")
        #expect(!key.verify(signature: try ws.read("pss.bin"), message: message, algorithm: .rs256))
    }

    @Test("Weak or foreign keys from the openssl tool are refused")
    func refusedKeys() throws {
        let ws = try Workspace()
        func modulus(ofPublicDER name: String) throws -> [UInt8] {
            let line = String(decoding: try ws.openssl("rsa", "-pubin", "-inform", "DER", "-in", name, "-modulus", "-noout"), as: UTF8.self)
            return WycheproofFixtures.bytes(hex: String(line.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("Modulus=".count)))
        }
        func code(_ body: () throws(CryptoError) -> PublicKey) -> CryptoError.Code? {
            do {
                _ = try body()
                return nil
            } catch {
                return error.code
            }
        }

        // RSA 2048 with e = 3: public_check accepts it (Debian's OpenSSL is not in FIPS mode); our policy does not.
        try ws.openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3", "-out", "e3.pem")
        try ws.openssl("pkey", "-in", "e3.pem", "-pubout", "-outform", "DER", "-out", "e3.der")
        let e3 = try modulus(ofPublicDER: "e3.der")
        #expect(code { () throws(CryptoError) in try PublicKey.rsa(modulus: e3, exponent: [3]) } == .weakKey)
        #expect(code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER(try! ws.read("e3.der")) } == .weakKey)

        // RSA 1024.
        try ws.openssl("genrsa", "-out", "small.pem", "1024")
        try ws.openssl("rsa", "-in", "small.pem", "-pubout", "-outform", "DER", "-out", "small.der")
        let small = try modulus(ofPublicDER: "small.der")
        #expect(code { () throws(CryptoError) in try PublicKey.rsa(modulus: small, exponent: [1, 0, 1]) } == .weakKey)
        #expect(code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER(try! ws.read("small.der")) } == .weakKey)

        // P-384 and Ed25519 public keys.
        try ws.openssl("ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", "p384.pem")
        try ws.openssl("ec", "-in", "p384.pem", "-pubout", "-outform", "DER", "-out", "p384.der")
        #expect(code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER(try! ws.read("p384.der")) } == .unsupportedKey)
        try ws.openssl("genpkey", "-algorithm", "ed25519", "-out", "ed.pem")
        try ws.openssl("pkey", "-in", "ed.pem", "-pubout", "-outform", "DER", "-out", "ed.der")
        #expect(code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER(try! ws.read("ed.der")) } == .unsupportedKey)

        // Not DER at all.
        #expect(code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER([]) } == .malformedKey)
        #expect(
            code { () throws(CryptoError) in try PublicKey.fromSubjectPublicKeyInfoDER(Array("-----BEGIN PUBLIC KEY-----".utf8)) }
                == .malformedKey)
    }
}
