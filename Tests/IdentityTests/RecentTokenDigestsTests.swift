import Crypto
import Foundation
import Locking
import Testing

@testable import Identity

/// `RecentTokenDigests`: the digest of a token is always the token's own, whichever token a
/// thread saw before.
@Suite struct RecentTokenDigestsTests {
    @Test("The same token, another one, one of another length, the first again: each digest is that token's SHA-256")
    func sequence() {
        let digests = RecentTokenDigests()
        let tokens = ["slc_aaaa", "slc_aaaa", "slc_aaab", "slc_aaaaa", "", "slc_aaaa"].map { Array($0.utf8) }
        for token in tokens { #expect(digests.digest(of: token) == SHA256.hash(token)) }
    }

    @Test("16 threads, each alternating its own two tokens: never another thread's digest")
    func threads() {
        let digests = RecentTokenDigests()
        let wrong = Locked(0)
        let group = DispatchGroup()
        for t in 0..<16 {
            group.enter()
            Thread {
                let mine = [Array("slc_thread\(t)_a".utf8), Array("slc_thread\(t)_b".utf8)]
                for k in 0..<300 where digests.digest(of: mine[k % 3 == 0 ? 1 : 0]) != SHA256.hash(mine[k % 3 == 0 ? 1 : 0]) {
                    wrong.withLock { $0 += 1 }
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(wrong.withLock { $0 } == 0)
    }
}
