import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresNotificationTests {
    @Test("A notification sent on one connection arrives on another that listens")
    func delivery() throws {
        let listener = try TestCluster.connect()
        let sender = try TestCluster.connect()
        let channel = TestCluster.uniqueName("jobs")
        try listener.listen(channel)
        try sender.notify(channel, payload: "job 7 ✓")
        let received = try listener.waitForNotifications(timeout: .seconds(10))
        #expect(received == [PostgresNotification(channel: channel, payload: "job 7 ✓", processID: sender.backendProcessID)])
        // Taken once: nothing more is waiting.
        #expect(try listener.waitForNotifications(timeout: .milliseconds(50)).isEmpty)
    }

    @Test("Waiting wakes up when a notification arrives during the wait")
    func wakesDuringWait() throws {
        let listener = try TestCluster.connect()
        let sender = try TestCluster.connect()
        let channel = TestCluster.uniqueName("wake")
        try listener.listen(channel)
        let sent = Thread {
            Thread.sleep(forTimeInterval: 0.2)
            try? sender.notify(channel, payload: "late")
        }
        sent.start()
        let started = ContinuousClock.now
        let received = try listener.waitForNotifications(timeout: .seconds(20))
        #expect(received.map(\.payload) == ["late"])
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test("Waiting with nothing sent returns nothing after the timeout")
    func timeout() throws {
        let listener = try TestCluster.connect()
        try listener.listen(TestCluster.uniqueName("quiet"))
        let started = ContinuousClock.now
        let received = try listener.waitForNotifications(timeout: .milliseconds(300))
        let elapsed = ContinuousClock.now - started
        #expect(received.isEmpty)
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(5))
        #expect(try listener.waitForNotifications(timeout: .zero).isEmpty)
    }

    @Test("Several notifications, queued while other statements ran, come back together and in order")
    func queuedDuringStatements() throws {
        let listener = try TestCluster.connect()
        let sender = try TestCluster.connect()
        let channel = TestCluster.uniqueName("queued")
        try listener.listen(channel)
        for i in 1...3 { try sender.notify(channel, payload: "n\(i)") }
        // A statement on the listener reads them off the socket into libpq's queue.
        try listener.execute("SELECT pg_sleep(0.1)")
        var received: [PostgresNotification] = []
        while received.count < 3 {
            let more = try listener.waitForNotifications(timeout: .seconds(10))
            try #require(!more.isEmpty)
            received += more
        }
        #expect(received.map(\.payload) == ["n1", "n2", "n3"])
    }

    @Test("Only listened channels are delivered; unlisten stops delivery; a rolled-back notify is never sent")
    func channelsAndTransactions() throws {
        let listener = try TestCluster.connect()
        let sender = try TestCluster.connect()
        let channel = TestCluster.uniqueName("only")
        try listener.listen(channel)
        try sender.notify(TestCluster.uniqueName("other"), payload: "not for us")
        struct Abort: Error {}
        _ = try? sender.transaction {
            try sender.notify(channel, payload: "rolled back")
            throw Abort()
        }
        try sender.transaction { try sender.notify(channel, payload: "committed") }
        #expect(try listener.waitForNotifications(timeout: .seconds(10)).map(\.payload) == ["committed"])
        try listener.unlisten(channel)
        try sender.notify(channel, payload: "after unlisten")
        #expect(try listener.waitForNotifications(timeout: .milliseconds(200)).isEmpty)
    }

    @Test("Names that are keywords work as channels (they are quoted)")
    func keywordChannel() throws {
        let listener = try TestCluster.connect()
        try listener.listen("select")
        try listener.listen("user")
        try listener.notify("user", payload: "self")
        let received = try listener.waitForNotifications(timeout: .seconds(10))
        #expect(received.map(\.channel) == ["user"])
        #expect(received.first?.processID == listener.backendProcessID)
    }

    @Test("Invalid channel names are refused before any SQL is sent")
    func invalidChannels() throws {
        let db = try TestCluster.connect()
        let names = [
            "", "Jobs", "1jobs", "jobs-x", "jobs x", "jobs;", "jobs\"; DROP TABLE x; --", "\u{212A}", "caf\u{E9}", "job\u{0}s",
            String(repeating: "a", count: 64),
        ]
        // Inside a transaction: a statement that reached the server and failed would abort it.
        try db.execute("BEGIN")
        for name in names {
            #expect((#expect(throws: PostgresError.self) { try db.listen(name) })?.kind == .invalidArgument, "\(name)")
            #expect((#expect(throws: PostgresError.self) { try db.unlisten(name) })?.kind == .invalidArgument, "\(name)")
            #expect((#expect(throws: PostgresError.self) { try db.notify(name, payload: "x") })?.kind == .invalidArgument, "\(name)")
        }
        #expect(try db.execute("SELECT 1::int8").first?.int64(0) == 1)
        try db.execute("COMMIT")
        // The longest accepted name works.
        try db.listen(String(repeating: "a", count: 63))
    }

    @Test("An oversized payload is refused by the server and leaves the connection usable")
    func oversizedPayload() throws {
        let db = try TestCluster.connect()
        let error = #expect(throws: PostgresError.self) {
            try db.notify(TestCluster.uniqueName("big"), payload: String(repeating: "x", count: 8000))
        }
        #expect(error?.kind == .query)
        #expect(try db.execute("SELECT 1::int8").first?.int64(0) == 1)
    }
}
