import Crypto
import Testing

@Suite struct HexTests {
    @Test("Bytes encode as two lower-case hex digits each")
    func encode() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00]) == "00")
        #expect(Hex.encode([0x00, 0x0a, 0xab, 0xff, 0x10]) == "000aabff10")
    }

    @Test("Every byte value encodes to its own two digits")
    func allBytes() {
        let encoded = Hex.encode(UInt8.min...UInt8.max)
        #expect(encoded.count == 512)
        #expect(encoded.allSatisfy { "0123456789abcdef".contains($0) })
        let pairs = stride(from: 0, to: 512, by: 2).map { i in
            String(encoded.dropFirst(i).prefix(2))
        }
        #expect(pairs.enumerated().allSatisfy { UInt8($1, radix: 16) == UInt8($0) })
    }

    @Test("Arrays, slices, contiguous arrays and lazy sequences encode alike")
    func shapes() {
        let bytes: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 0x01]
        #expect(Hex.encode(bytes) == "deadbeef01")
        #expect(Hex.encode(bytes[1..<4]) == "adbeef")
        #expect(Hex.encode(ContiguousArray(bytes)) == "deadbeef01")
        #expect(Hex.encode(bytes.lazy.map { $0 ^ 0xff }) == "21524110fe")
    }
}
