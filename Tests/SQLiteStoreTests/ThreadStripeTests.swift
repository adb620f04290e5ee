import Foundation
import Locking
import Testing

@Suite struct ThreadNumberTests {
    @Test("Each thread keeps its own number, and 16 threads running at once all get different ones")
    func distinct() {
        let numbers = Locked<[Int]>([])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for _ in 0..<16 {
            group.enter()
            Thread {
                start.wait()
                let first = ThreadNumber.current
                usleep(1000)
                #expect(ThreadNumber.current == first, "a thread's number changed")
                numbers.withLock { $0.append(first) }
                group.leave()
            }.start()
        }
        for _ in 0..<16 { start.signal() }
        group.wait()
        let all = numbers.withLock { $0 }
        #expect(Set(all).count == 16, "\(all)")
    }
}

@Suite struct StripedTests {
    @Test("A replaced value is what every thread reads next, whichever stripe it reads")
    func replace() {
        let striped = Striped("old", count: 4)
        #expect(striped.value == "old")
        striped.replace(with: "new")
        let seen = Locked<Set<String>>([])
        let group = DispatchGroup()
        for _ in 0..<12 {
            group.enter()
            Thread {
                seen.withLock { _ = $0.insert(striped.value) }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(seen.withLock { $0 } == ["new"])
    }
}
