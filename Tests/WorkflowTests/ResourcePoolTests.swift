import Testing

@testable import Workflow

@Suite struct ResourcePoolTests {
    static let capacities = ["db": 2, "gpu": 1]

    @Test("acquire takes what is wanted while it fits, and refuses once a resource would exceed its capacity")
    func acquireWithinCapacity() {
        var pool = ResourcePool()
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == ["db": 1])
        #expect(pool.inUse("db") == 1)
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == ["db": 1])
        #expect(pool.inUse("db") == 2)
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == nil)
        #expect(pool.inUse("db") == 2)
    }

    @Test("acquire is all or nothing: if one resource is short, none of the others is taken")
    func allOrNothing() {
        var pool = ResourcePool()
        #expect(pool.acquire(["gpu": 1], capacities: Self.capacities) == ["gpu": 1])
        #expect(pool.acquire(["db": 2, "gpu": 1], capacities: Self.capacities) == nil)
        #expect(pool.inUse("db") == 0)
        #expect(pool.inUse("gpu") == 1)
        #expect(pool.use == ["gpu": 1])
        // The db part alone still fits in full.
        #expect(pool.acquire(["db": 2], capacities: Self.capacities) == ["db": 2])
    }

    @Test("A task wanting more than a capacity (lowered by a reload) takes the whole capacity instead of waiting forever")
    func wantedAboveCapacityIsCapped() throws {
        var pool = ResourcePool()
        let held = pool.acquire(["db": 5, "gpu": 1], capacities: Self.capacities)
        #expect(held == ["db": 2, "gpu": 1])
        #expect(pool.inUse("db") == 2)
        // While it runs nothing else gets the resource.
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == nil)
        pool.release(try #require(held))
        #expect(pool.inUse("db") == 0)
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == ["db": 1])
    }

    @Test("The capped amount still waits for the whole capacity to be free")
    func cappedAmountWaits() {
        var pool = ResourcePool()
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == ["db": 1])
        #expect(pool.acquire(["db": 9], capacities: Self.capacities) == nil)
        #expect(pool.inUse("db") == 1)
    }

    @Test("A resource that is not configured is unlimited and not held")
    func unconfiguredResource() {
        var pool = ResourcePool()
        for _ in 0..<3 {
            #expect(pool.acquire(["licence": 1000, "db": 1], capacities: ["db": 10]) == ["db": 1])
        }
        #expect(pool.inUse("licence") == 0)
        #expect(pool.inUse("db") == 3)
        #expect(pool.acquire(["licence": 1], capacities: [:]) == [:])
        #expect(pool.use == ["db": 3])
    }

    @Test("release gives back exactly what was held, and in-use entries drop to nothing")
    func release() throws {
        var pool = ResourcePool()
        let aHeld = pool.acquire(["db": 1, "gpu": 1], capacities: Self.capacities)
        let a = try #require(aHeld)
        let bHeld = pool.acquire(["db": 1], capacities: Self.capacities)
        let b = try #require(bHeld)
        #expect(pool.acquire(["gpu": 1], capacities: Self.capacities) == nil)
        pool.release(a)
        #expect(pool.inUse("db") == 1)
        #expect(pool.inUse("gpu") == 0)
        #expect(pool.acquire(["gpu": 1], capacities: Self.capacities) == ["gpu": 1])
        pool.release(b)
        pool.release(["gpu": 1])
        #expect(pool.use.isEmpty)
        #expect(pool == ResourcePool())
    }

    @Test("adopt takes a running task's amounts even beyond a capacity, and acquire refuses until they are released")
    func adoptOverCapacity() {
        var pool = ResourcePool()
        let first = pool.adopt(["db": 2], capacities: Self.capacities)
        let second = pool.adopt(["db": 2, "gpu": 1, "gone": 4], capacities: Self.capacities)
        #expect(first == ["db": 2])
        #expect(second == ["db": 2, "gpu": 1])
        #expect(pool.inUse("db") == 4)
        #expect(pool.inUse("gone") == 0)
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == nil)
        pool.release(first)
        #expect(pool.inUse("db") == 2)
        #expect(pool.acquire(["db": 1], capacities: Self.capacities) == nil)
        pool.release(second)
        #expect(pool.inUse("db") == 0)
        #expect(pool.acquire(["db": 1, "gpu": 1], capacities: Self.capacities) == ["db": 1, "gpu": 1])
    }

    @Test("adopt caps each amount at the capacity, as acquire does")
    func adoptCaps() {
        var pool = ResourcePool()
        #expect(pool.adopt(["db": 7], capacities: Self.capacities) == ["db": 2])
        #expect(pool.inUse("db") == 2)
    }

    @Test("Resource names are compared as bytes: \"K\" and \"\\u{212A}\" are different resources")
    func namesComparedAsBytes() throws {
        let kelvin = "\u{212A}"
        var pool = ResourcePool()
        // Configured only as "K": the Kelvin-sign spelling is not configured, so unlimited and not held.
        #expect(pool.acquire([kelvin: 1], capacities: ["K": 1]) == [:])
        #expect(pool.inUse("K") == 0)
        #expect(pool.acquire(["K": 1], capacities: ["K": 1]) == ["K": 1])
        #expect(pool.inUse("K") == 1)
        #expect(pool.inUse(kelvin) == 0)
        #expect(pool.acquire(["K": 1], capacities: ["K": 1]) == nil)
        // Configured as the Kelvin sign: held separately from "K".
        let acquired = pool.acquire([kelvin: 1], capacities: [kelvin: 1])
        let held = try #require(acquired)
        #expect(held.count == 1 && held.keys.first?.utf8.elementsEqual(kelvin.utf8) == true)
        #expect(pool.inUse(kelvin) == 1)
        #expect(pool.inUse("K") == 1)
        pool.release(["K": 1])
        #expect(pool.inUse("K") == 0)
        #expect(pool.inUse(kelvin) == 1)
    }

    @Test("Names differing only in Unicode normalisation are different resources")
    func normalisationDistinct() {
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        var pool = ResourcePool()
        #expect(pool.acquire([precomposed: 1], capacities: [precomposed: 1]) == [precomposed: 1])
        #expect(pool.inUse(decomposed) == 0)
        #expect(pool.acquire([decomposed: 1], capacities: [decomposed: 1]) == [decomposed: 1])
        #expect(pool.inUse(precomposed) == 1)
        #expect(pool.inUse(decomposed) == 1)
    }
}
