import Foundation
import JobStore
import Postgres
import TestSupport
import Testing

@testable import PostgresStore

/// The change listener of a PostgreSQL store: what wakes it, what does not, and that stores in
/// other schemas of the same database do not wake each other.
@Suite(ServerTrait.enabled, .timeLimit(.minutes(1)))
struct SharedListenerTests {
    /// Long enough for a committed notification to arrive on a local server.
    static let arrives = Duration.seconds(5)
    /// How long a listener is given to stay quiet.
    static let quiet = Duration.milliseconds(300)

    @Test("The progress listener also hears every applied task change (not a refused one), and tells it from a claimable change")
    func progressListener() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let listener = try store.makeProgressListener()
        defer { listener.close() }
        #expect(try listener.waitForChanges(timeout: Self.quiet) == [])
        let a = try shared.submit()
        #expect(try listener.waitForChanges(timeout: Self.arrives) == .claimable)
        let lease = try store.register(host: "h", leaseSeconds: 60)
        _ = try store.claim(lease, ClaimRequest(limit: 10))
        #expect(try store.record([SharedStore.start(a)], fencedBy: lease) == [])
        #expect(try listener.waitForChanges(timeout: Self.arrives) == .progress)
        let stranger = try store.register(host: "stranger", leaseSeconds: 60)
        #expect(try store.record([SharedStore.start(a)], fencedBy: stranger) == [a])
        #expect(try listener.waitForChanges(timeout: Self.quiet) == [], "a refused write changed nothing")
        #expect(try store.record([SharedStore.finish(a)], fencedBy: lease) == [])
        #expect(try listener.waitForChanges(timeout: Self.arrives) == [.claimable, .progress])
    }

    @Test(
        "The listener wakes on a submission, a cancel request, a retry, a job becoming terminal and a rescue, and times out when nothing happened"
    )
    func wakesOnChanges() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let store = shared.store
        let listener = try store.makeListener()
        defer { listener.close() }
        #expect(try listener.wait(timeout: Self.quiet) == false)

        let a = try shared.submit()
        #expect(try listener.wait(timeout: Self.arrives) == true)
        #expect(try listener.wait(timeout: Self.quiet) == false)  // taken: one wake-up per change

        // Leases, claims and non-terminal writes wake nobody.
        let lease = try store.register(host: "h", leaseSeconds: 60)
        #expect(try store.renew(lease, leaseSeconds: 60))
        #expect(try store.claim(lease, ClaimRequest(limit: 10)).jobs.map(\.id) == [a])
        #expect(try store.record([SharedStore.start(a)], fencedBy: lease) == [])
        try store.recordProcesses([(a, "t", 5)], fencedBy: lease)
        _ = try store.takeOver(lease)
        #expect(try store.rescueExpired() == [:])
        #expect(try listener.wait(timeout: Self.quiet) == false)

        #expect(try store.requestCancel(jobID: a)?.cancelRequested == true)
        #expect(try listener.wait(timeout: Self.arrives) == true)
        // A refused fenced write wakes nobody; the owner's terminal write does.
        let stranger = try store.register(host: "stranger", leaseSeconds: 60)
        #expect(try store.record([SharedStore.finish(a, .cancelled)], fencedBy: stranger) == [a])
        #expect(try listener.wait(timeout: Self.quiet) == false)
        #expect(try store.record([SharedStore.finish(a, .cancelled)], fencedBy: lease) == [])
        #expect(try listener.wait(timeout: Self.arrives) == true)
        // Writing the terminal state again is no change of state: no wake-up.
        try store.record([SharedStore.finish(a, .cancelled)])
        #expect(try listener.wait(timeout: Self.quiet) == false)

        #expect(try store.retry(jobID: a)?.state == .queued)
        #expect(try listener.wait(timeout: Self.arrives) == true)
        // The unfenced batch wakes it too when a job becomes terminal.
        try store.record([SharedStore.finish(a)])
        #expect(try listener.wait(timeout: Self.arrives) == true)

        let b = try shared.submit()
        #expect(try listener.wait(timeout: Self.arrives) == true)
        let short = try store.register(host: "short", leaseSeconds: 60)
        #expect(try store.claim(short, ClaimRequest(limit: 1)).jobs.map(\.id) == [b])
        try shared.expire("short")
        #expect(try listener.wait(timeout: .zero) == false)
        #expect(try store.rescueExpired() == ["short": 1])
        #expect(try listener.wait(timeout: Self.arrives) == true)
        #expect(try listener.wait(timeout: Self.quiet) == false)
    }

    @Test("A notification that arrived before wait is called is not lost, and several arrive as one wake-up")
    func queuedNotifications() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let listener = try shared.store.makeListener()
        defer { listener.close() }
        try shared.submit()
        try shared.submit()
        try shared.submit()
        usleep(100_000)
        #expect(try listener.wait(timeout: .zero) == true)
        #expect(try listener.wait(timeout: Self.quiet) == false)
    }

    @Test("A listener on another schema of the same database is not woken by this store's changes")
    func otherSchema() throws {
        let one = try SharedStore()
        defer { one.drop() }
        let two = try SharedStore()
        defer { two.drop() }
        let listenerOne = try one.store.makeListener()
        defer { listenerOne.close() }
        let listenerTwo = try two.store.makeListener()
        defer { listenerTwo.close() }
        try one.submit()
        #expect(try listenerOne.wait(timeout: Self.arrives) == true)
        #expect(try listenerTwo.wait(timeout: Self.quiet) == false)
        try two.submit()
        #expect(try listenerTwo.wait(timeout: Self.arrives) == true)
        #expect(try listenerOne.wait(timeout: Self.quiet) == false)
        // Two stores on one schema share the channel: another host's store wakes this listener.
        let sameSchema = try one.host()
        _ = try sameSchema.submit(SharedStore.newJob(), rules: SubmissionRules())
        #expect(try listenerOne.wait(timeout: Self.arrives) == true)
    }

    @Test("A closed listener, or one whose connection the server ended, throws StorageUnavailable")
    func brokenConnection() throws {
        let shared = try SharedStore()
        defer { shared.drop() }
        let listener = try shared.store.makeListener()
        // The listener's session, found by its channel (other tests' listeners run meanwhile).
        let pid = try #require(
            try shared.db.execute(
                "SELECT pid FROM pg_stat_activity WHERE query = $1 AND datname = current_database()",
                [.text("LISTEN \"\(shared.store.channel)\"")]
            ).compactMap { try $0.int64(0) }.first)
        try shared.db.execute("SELECT pg_terminate_backend($1::int)", [.int64(pid)])
        #expect(throws: StorageUnavailable.self) { try listener.wait(timeout: Self.arrives) }
        listener.close()
        listener.close()
        #expect(throws: StorageUnavailable.self) { try listener.wait(timeout: .zero) }
        // A new one works.
        let again = try shared.store.makeListener()
        defer { again.close() }
        try shared.submit()
        #expect(try again.wait(timeout: Self.arrives) == true)
    }
}
