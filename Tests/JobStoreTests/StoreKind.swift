import Foundation
import JobStore
import PostgresStore
import SQLite
import SQLiteStore
import TestSupport
import Testing

/// The stores the protocol suite runs against: every test that takes a `StoreKind` runs once per
/// case. A new store adds its case here (and a `StoreHarness`), and the whole suite runs against
/// it too.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `SQLiteJobStore` on a file in a fresh temporary directory.
    case sqlite
    /// `PostgresJobStore` in a fresh schema of the test database (`TestPostgres`): skipped
    /// without a server, failing without one under `SLUICE_TEST_POSTGRES_REQUIRED=1`.
    case postgres

    var testDescription: String { self.rawValue }

    /// Every store the suite can run against here: PostgreSQL only with a test server, or when
    /// one is required (`SLUICE_TEST_POSTGRES_REQUIRED=1`, and then its cases fail saying why
    /// there is none). Without one, `StoreAvailabilityTests` reports the PostgreSQL cases as
    /// skipped, with the reason: a case left out of the arguments would not show at all.
    static var allCases: [StoreKind] { TestPostgres.isEnabled ? [.sqlite, .postgres] : [.sqlite] }

    /// A fresh, empty store of this kind whose clock is `clock`; call `tearDown()` when done.
    func make(clock: TestClock = TestClock(Fixtures.epoch)) throws -> any StoreHarness {
        switch self {
        case .sqlite: return try SQLiteHarness(clock: clock)
        case .postgres:
            // Only when asked for explicitly (`allCases` leaves it out): skip just this case.
            if !TestPostgres.isEnabled { try Test.cancel(Comment(rawValue: TestPostgres.disabledReason)) }
            return try PostgresHarness(clock: clock)
        }
    }
}

/// Whether the protocol suite runs against every store, so that a run without a PostgreSQL
/// server says so instead of passing quietly with SQLite alone.
@Suite struct StoreAvailabilityTests {
    @Test(
        "The protocol suite runs against PostgreSQL too",
        .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)))
    func postgres() throws {
        _ = try TestPostgres.requireURL()
        #expect(StoreKind.allCases.contains(.postgres))
    }
}

/// A store under test, with what the protocol suite needs beyond the protocol: opening the same
/// data again, and a few things only the database itself can do (tampering, breaking inserts),
/// done the engine's own way.
protocol StoreHarness: Sendable {
    /// The store.
    var store: any JobStore { get }

    /// A second store on the same data (as after a restart), with the same clock.
    func reopen() throws -> any JobStore

    /// What the engine's own consistency check finds wrong; empty when healthy.
    func consistencyProblems() throws -> [String]

    /// Changes (`UPDATE`) every audit record behind the store's back; must throw, since audit
    /// records are append-only.
    func tamperWithAudit() throws

    /// Deletes every audit record behind the store's back; must throw likewise.
    func deleteAudit() throws

    /// Makes every later audit insert fail, as a full disk or a lock timeout would at that
    /// statement.
    func breakAuditInserts() throws

    /// Removes the store's data.
    func tearDown()
}

/// `SQLiteJobStore` on `jobs.sqlite` in a temporary directory.
struct SQLiteHarness: StoreHarness {
    let directory: TemporaryDirectory
    let clock: TestClock
    let sqlite: SQLiteJobStore
    var store: any JobStore { self.sqlite }
    var path: String { self.directory.file("jobs.sqlite") }

    init(clock: TestClock) throws {
        self.directory = try TemporaryDirectory()
        self.clock = clock
        self.sqlite = try SQLiteJobStore(path: self.directory.file("jobs.sqlite"), now: clock.function)
    }

    func reopen() throws -> any JobStore { try SQLiteJobStore(path: self.path, now: self.clock.function) }

    func consistencyProblems() throws -> [String] { try self.sqlite.integrityCheck().filter { $0 != "ok" } }

    func tamperWithAudit() throws { try Connection(path: self.path).run("UPDATE audit SET user = 'mallory'") }

    func deleteAudit() throws { try Connection(path: self.path).run("DELETE FROM audit") }

    func breakAuditInserts() throws {
        try Connection(path: self.path).execute(
            "CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no room for audit'); END;")
    }

    func tearDown() { self.directory.remove() }
}
