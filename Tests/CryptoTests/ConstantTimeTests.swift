import Crypto
import Testing

@Suite struct ConstantTimeTests {
    @Test("Equal byte strings compare equal")
    func equal() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        let long = [UInt8](repeating: 0xab, count: 4096)
        #expect(ConstantTime.equals(long, long))
    }

    @Test("A difference in the first or last byte is detected")
    func differ() {
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([0, 2, 3], [1, 2, 3]))
        var long = [UInt8](repeating: 0xab, count: 4096)
        let copy = long
        long[4095] ^= 0x01
        #expect(!ConstantTime.equals(long, copy))
    }

    @Test("Different lengths are unequal, even when one is a prefix of the other")
    func lengths() {
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([], [0]))
        #expect(!ConstantTime.equals([0], []))
    }

    @Test("Two empty byte strings are equal")
    func empty() {
        #expect(ConstantTime.equals([], []))
    }
}
