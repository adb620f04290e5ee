import Crypto
import Dispatch
import Testing

@Suite struct PublicKeyTests {
    typealias Example = RFC7515Examples

    // MARK: RFC 7515 examples

    @Test("RFC 7515 A.2: the RS256 example verifies with its JWK; modified inputs do not")
    func rfc7515RS256() throws {
        let jwk = try JWK(members: Example.rs256JWK)
        #expect(jwk.algorithm == .rs256 && jwk.key.bits == 2048 && jwk.kid == nil)
        let signature = Example.decoded(Example.rs256Signature)
        let input = Example.rs256SigningInput
        #expect(jwk.key.verify(signature: signature, message: input, algorithm: .rs256))
        #expect(!jwk.key.verify(signature: signature, message: input, algorithm: .es256))
        // One flipped bit per byte, at a varying position: every one must fail.
        for index in signature.indices {
            var flipped = signature
            flipped[index] ^= UInt8(1) << UInt8(index % 8)
            #expect(!jwk.key.verify(signature: flipped, message: input, algorithm: .rs256), "byte \(index)")
        }
        #expect(!jwk.key.verify(signature: Array(signature.dropLast()), message: input, algorithm: .rs256))
        #expect(!jwk.key.verify(signature: [0] + signature, message: input, algorithm: .rs256))
        #expect(!jwk.key.verify(signature: signature + [0], message: input, algorithm: .rs256))
        #expect(!jwk.key.verify(signature: [], message: input, algorithm: .rs256))
        var message = input
        message[message.count - 1] ^= 0x01
        #expect(!jwk.key.verify(signature: signature, message: message, algorithm: .rs256))
        // The signature is over the received ASCII, so a re-padded encoding is another message.
        #expect(!jwk.key.verify(signature: signature, message: input + Array("=".utf8), algorithm: .rs256))
    }

    @Test("RFC 7515 A.3: the ES256 example verifies with its JWK; modified inputs do not")
    func rfc7515ES256() throws {
        let jwk = try JWK(members: Example.es256JWK)
        #expect(jwk.algorithm == .es256 && jwk.key.bits == 256)
        let signature = Example.decoded(Example.es256Signature)
        let input = Example.es256SigningInput
        #expect(signature.count == 64)
        #expect(jwk.key.verify(signature: signature, message: input, algorithm: .es256))
        #expect(!jwk.key.verify(signature: signature, message: input, algorithm: .rs256))
        for bit in 0..<(signature.count * 8) {
            var flipped = signature
            flipped[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            #expect(!jwk.key.verify(signature: flipped, message: input, algorithm: .es256), "bit \(bit)")
        }
        for length in [0, 1, 31, 32, 63, 65, 66, 128] {
            let resized = Array((signature + signature).prefix(length))
            #expect(!jwk.key.verify(signature: resized, message: input, algorithm: .es256), "length \(length)")
        }
        var message = input
        message[0] ^= 0x01
        #expect(!jwk.key.verify(signature: signature, message: message, algorithm: .es256))
        #expect(!jwk.key.verify(signature: signature, message: [], algorithm: .es256))
    }

    @Test("ES256: r = 0 or s = 0 is refused (J15)")
    func zeroComponents() throws {
        let key = try JWK(members: Example.es256JWK).key
        let signature = Example.decoded(Example.es256Signature)
        let input = Example.es256SigningInput
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(!key.verify(signature: zero + signature.suffix(32), message: input, algorithm: .es256))
        #expect(!key.verify(signature: Array(signature.prefix(32)) + zero, message: input, algorithm: .es256))
        #expect(!key.verify(signature: zero + zero, message: input, algorithm: .es256))
        let ff = [UInt8](repeating: 0xFF, count: 32)  // ≥ n
        #expect(!key.verify(signature: ff + signature.suffix(32), message: input, algorithm: .es256))
        #expect(!key.verify(signature: Array(signature.prefix(32)) + ff, message: input, algorithm: .es256))
    }

    // MARK: Key policy

    @Test("P-256: coordinates must be exactly 32 bytes each")
    func coordinateLengths() throws {
        let x = Example.decoded(Example.es256X), y = Example.decoded(Example.es256Y)
        #expect(throws: CryptoError.self) { try PublicKey.p256(x: Array(x.dropFirst()), y: y) }
        #expect(throws: CryptoError.self) { try PublicKey.p256(x: x, y: Array(y.dropFirst())) }
        #expect(throws: CryptoError.self) { try PublicKey.p256(x: [0] + x, y: y) }
        #expect(throws: CryptoError.self) { try PublicKey.p256(x: x, y: [0] + y) }
        #expect(throws: CryptoError.self) { try PublicKey.p256(x: [], y: []) }
        do {
            _ = try PublicKey.p256(x: x, y: [0] + y)
        } catch {
            #expect(error.code == .malformedKey)
        }
        #expect(try PublicKey.p256(x: x, y: y).algorithm == .es256)
    }

    @Test("P-256: points that are not on the curve are refused")
    func offCurve() {
        let x = Example.decoded(Example.es256X), y = Example.decoded(Example.es256Y)
        var badY = y
        badY[31] ^= 0x01
        let zeros = [UInt8](repeating: 0, count: 32)
        let ones = [UInt8](repeating: 0xFF, count: 32)  // coordinates ≥ p
        for (px, py) in [(x, badY), (zeros, zeros), (x, zeros), (ones, y), (y, x)] {
            do {
                _ = try PublicKey.p256(x: px, y: py)
                Issue.record("an off-curve point was accepted")
            } catch {
                #expect(error.code == .invalidKey)
            }
        }
    }

    @Test("RSA: the modulus size, exponent and minimal-encoding rules of J12")
    func rsaPolicy() throws {
        let n = Example.decoded(Example.rs256N)
        func code(_ modulus: [UInt8], _ exponent: [UInt8]) -> CryptoError.Code? {
            do {
                _ = try PublicKey.rsa(modulus: modulus, exponent: exponent)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(n, [1, 0, 1]) == nil)
        #expect(code(n, [3]) == .weakKey)  // e = 3
        #expect(code(n, [1]) == .weakKey)  // e = 1
        #expect(code(n, [1, 0, 0, 1]) == .weakKey)
        #expect(code(n, [0, 1, 0, 1]) == .malformedKey)  // non-minimal exponent
        #expect(code([0] + n, [1, 0, 1]) == .malformedKey)  // non-minimal modulus
        #expect(code(n, []) == .malformedKey)
        #expect(code([], [1, 0, 1]) == .malformedKey)
        #expect(code(Array(n.prefix(128)), [1, 0, 1]) == .weakKey)  // 1024 bits
        #expect(code([0x7F] + Array(n.dropFirst()), [1, 0, 1]) == .weakKey)  // 2047 bits
        #expect(code([UInt8](repeating: 0xFF, count: 1025), [1, 0, 1]) == .weakKey)  // 8200 bits
        #expect(code([0x01] + [UInt8](repeating: 0xFF, count: 1024), [1, 0, 1]) == .weakKey)  // 8193 bits
        var even = n
        even[even.count - 1] &= 0xFE
        #expect(code(even, [1, 0, 1]) == .invalidKey)  // public_check: an even modulus
    }

    @Test("Errors name the rule, never the key material")
    func errorsCarryNoMaterial() {
        let n = Example.decoded(Example.rs256N)
        do {
            _ = try PublicKey.rsa(modulus: Array(n.prefix(128)), exponent: [1, 0, 1])
            Issue.record("a 1024-bit key was accepted")
        } catch {
            #expect(error.reason.contains("1024"))
            #expect(!error.description.contains(String(Example.rs256N.prefix(12))))
            #expect(!error.description.contains(Hex.encode(n.prefix(6))))
        }
    }

    // MARK: Algorithm binding and reuse

    @Test("A key verifies only with its own algorithm")
    func algorithmBinding() throws {
        let rsa = try JWK(members: Example.rs256JWK).key
        let ec = try JWK(members: Example.es256JWK).key
        let rsSig = Example.decoded(Example.rs256Signature)
        let esSig = Example.decoded(Example.es256Signature)
        #expect(!rsa.verify(signature: esSig, message: Example.es256SigningInput, algorithm: .es256))
        #expect(!rsa.verify(signature: esSig, message: Example.es256SigningInput, algorithm: .rs256))
        #expect(!ec.verify(signature: rsSig, message: Example.rs256SigningInput, algorithm: .rs256))
        #expect(!ec.verify(signature: rsSig, message: Example.rs256SigningInput, algorithm: .es256))
        #expect(SignatureAlgorithm(jwsName: "RS256") == .rs256)
        #expect(SignatureAlgorithm(jwsName: "ES256") == .es256)
        for name in ["rs256", "es256", "none", "NoNe", "HS256", "PS256", "RS512", "ES384", "", " RS256"] {
            #expect(SignatureAlgorithm(jwsName: name) == nil, "\(name)")
        }
    }

    @Test("One key verifies repeatedly and from many threads at once")
    func concurrentReuse() throws {
        let rsa = try JWK(members: Example.rs256JWK).key
        let ec = try JWK(members: Example.es256JWK).key
        let rsSig = Example.decoded(Example.rs256Signature)
        let esSig = Example.decoded(Example.es256Signature)
        let rsInput = Example.rs256SigningInput, esInput = Example.es256SigningInput
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            let ok: Bool
            switch i % 4 {
            case 0: ok = rsa.verify(signature: rsSig, message: rsInput, algorithm: .rs256)
            case 1: ok = ec.verify(signature: esSig, message: esInput, algorithm: .es256)
            case 2: ok = !rsa.verify(signature: rsSig, message: esInput, algorithm: .rs256)
            default: ok = !ec.verify(signature: esSig, message: rsInput, algorithm: .es256)
            }
            if !ok { failures.increment() }
        }
        #expect(failures.value == 0)
    }
}

/// A thread-safe counter for the concurrency test.
private final class Counter: @unchecked Sendable {
    private let lock = DispatchQueue(label: "PublicKeyTests.Counter")
    private var count = 0
    func increment() { lock.sync { count += 1 } }
    var value: Int { lock.sync { count } }
}
