import Foundation
import JobStore
import TestSupport
import Testing

/// Schedules' kept marks, against every store: moved only from what the mover last saw.
@Suite struct ScheduleMarkTests {
    @Test("A mark is created once, moved only from the kept one, and names are compared as bytes", arguments: StoreKind.allCases)
    func compareAndSet(_ kind: StoreKind) throws {
        let h = try kind.make()
        defer { h.tearDown() }
        let store = h.store
        #expect(try store.scheduleMarks() == [])
        let first = ScheduleMark(name: "KPI", nextFireAt: Fixtures.epoch.addingTimeInterval(60.0004), fingerprint: "@hourly|UTC")
        #expect(first.nextFireAt == Fixtures.epoch.addingTimeInterval(60), "kept to the millisecond, like every stored time")
        #expect(try store.moveScheduleMark(from: nil, to: first))
        #expect(try !store.moveScheduleMark(from: nil, to: first), "created once: a second host's insert loses")
        let kelvin = ScheduleMark(name: "\u{212A}PI", nextFireAt: Fixtures.epoch, fingerprint: "@daily|UTC")
        #expect(try store.moveScheduleMark(from: nil, to: kelvin), "the Kelvin sign is another name")
        #expect(Set(try store.scheduleMarks()) == [first, kelvin])

        let second = ScheduleMark(name: "KPI", nextFireAt: Fixtures.epoch.addingTimeInterval(3_660), fingerprint: "@hourly|UTC")
        #expect(try store.moveScheduleMark(from: first, to: second))
        #expect(try !store.moveScheduleMark(from: first, to: second), "moved already: the stale view loses")
        var changed = second
        changed.fingerprint = "@daily|UTC"
        #expect(try !store.moveScheduleMark(from: changed, to: first), "the fingerprint is part of what is compared")
        #expect(Set(try store.scheduleMarks()) == [second, kelvin])
    }
}
