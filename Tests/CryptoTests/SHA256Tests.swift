import Crypto
import Foundation
import Testing

@Suite struct SHA256Tests {
    @Test("The digest of the empty string matches FIPS 180-2")
    func empty() {
        #expect(SHA256.hexHash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash([UInt8]()).count == 32)
    }

    @Test("The digest of abc matches FIPS 180-2")
    func abc() {
        #expect(SHA256.hexHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("The digest of the two-block message matches FIPS 180-2")
    func twoBlocks() {
        #expect(
            SHA256.hexHash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("The digest of one million a's matches FIPS 180-2")
    func millionAs() {
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hex.encode(SHA256.hash(bytes)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("Any collection of bytes hashes like the equivalent array")
    func collections() {
        let bytes = Array("xxabcxx".utf8)
        let slice = bytes[2..<5]
        #expect(SHA256.hash(slice) == SHA256.hash(Array("abc".utf8)))
        #expect(SHA256.hash("abc".utf8) == SHA256.hash(Array("abc".utf8)))
    }

    @Test("hexHash hashes the UTF-8 bytes of the string")
    func utf8() {
        #expect(SHA256.hexHash("é") == Hex.encode(SHA256.hash([0xC3, 0xA9])))
        #expect(SHA256.hexHash("é") != SHA256.hexHash("e\u{301}"))
    }

    @Test("A one-bit change changes the digest")
    func avalanche() {
        #expect(SHA256.hash([0x00]) != SHA256.hash([0x01]))
        #expect(SHA256.hash([0x00]) != SHA256.hash([0x00, 0x00]))
    }

    @Test("Threads that come and go hash at the same time: every digest is right, interleaved or not")
    func threads() {
        let expected = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"].map { SHA256.hexHash($0) }
        let wrong = NSLock()
        nonisolated(unsafe) var failures = 0
        // 3 waves of 8 threads, each hashing 500 times while the others do.
        for _ in 0..<3 {
            let group = DispatchGroup()
            for t in 0..<8 {
                let thread = Thread {
                    for k in 0..<500 {
                        let i = (t + k) % 3
                        let text = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"][i]
                        if SHA256.hexHash(text) != expected[i] {
                            wrong.lock()
                            failures += 1
                            wrong.unlock()
                        }
                    }
                    group.leave()
                }
                group.enter()
                thread.start()
            }
            group.wait()
        }
        wrong.lock()
        #expect(failures == 0)
        wrong.unlock()
        #expect(expected[1] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
