import Foundation
import Postgres
import TestSupport
import Testing

@Suite(.enabled(if: TestCluster.isEnabled, TestCluster.disabledReason))
struct PostgresConnectionTests {
    @Test("Connects with a conninfo string and a password passed apart from it")
    func connectsWithConninfo() throws {
        let db = try TestCluster.connect()
        #expect(db.status == .ok)
        #expect(db.backendProcessID > 0)
        let row = try #require(try db.execute("SELECT current_user, current_setting('client_encoding') AS encoding").first)
        #expect(try row.string(0) == TestCluster.parameters()["user"])
        #expect(try row.string("encoding") == "UTF8")
    }

    @Test("Defaults apply unless the connection string sets the same keyword; the network timeouts are accepted by libpq")
    func defaultsYieldToTheConnectionString() throws {
        let url = try TestCluster.requireURL()
        let fromDefaults = try PostgresConnection(url, password: TestCluster.password, defaults: [("application_name", "from-defaults")])
        defer { fromDefaults.close() }
        #expect(try fromDefaults.execute("SELECT current_setting('application_name')").first?.string(0) == "from-defaults")
        let overridden = try PostgresConnection(
            url + " application_name=from-string", password: TestCluster.password, defaults: [("application_name", "from-defaults")])
        defer { overridden.close() }
        #expect(try overridden.execute("SELECT current_setting('application_name')").first?.string(0) == "from-string")
        // libpq refuses unknown keywords and bad values at connect time: these are all valid.
        let timed = try PostgresConnection(url, password: TestCluster.password, defaults: PostgresConnection.networkTimeouts(seconds: 1))
        defer { timed.close() }
        #expect(timed.status == .ok)
        #expect(PostgresConnection.networkTimeouts(seconds: 0).first { $0.0 == "tcp_user_timeout" }?.1 == "1000")
        #expect(PostgresConnection.networkTimeouts(seconds: 5).first { $0.0 == "connect_timeout" }?.1 == "5")
        #expect(PostgresConnection.networkTimeouts(seconds: 1).first { $0.0 == "connect_timeout" }?.1 == "2")
        let bad = try #require(throws: PostgresError.self) {
            try PostgresConnection(url, password: TestCluster.password, defaults: [("no_such_keyword", "1")])
        }
        #expect(bad.kind == .connection)
    }

    @Test("The test password holds characters a URL or conninfo string would have to quote")
    func passwordNeedsQuoting() throws {
        // scripts/test makes it so; the connection above proves it needed no quoting.
        let password = try #require(TestCluster.password, "scripts/test sets SLUICE_TEST_POSTGRES_PASSWORD")
        for character in ["@", ":", "/", "?", "#", "%", " ", "'", "\\", "\""] {
            #expect(password.contains(character), "the password lacks \(character)")
        }
    }

    @Test("Connects with a URL and the password passed apart from it")
    func connectsWithURL() throws {
        let parameters = try TestCluster.parameters()
        let host = try #require(parameters["host"]).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let user = try #require(parameters["user"])
        let url = "postgresql://\(user)@/\(try #require(parameters["dbname"]))?host=\(host)&port=\(try #require(parameters["port"]))"
        let db = try PostgresConnection(url, password: TestCluster.password)
        #expect(try db.execute("SELECT current_user").first?.string(0) == user)
    }

    @Test("A wrong password is refused with a connection error that does not quote it")
    func wrongPassword() throws {
        let wrong = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(TestCluster.requireURL(), password: wrong) }
        #expect(error.kind == .connection)
        #expect(error.isConnectionError)
        #expect(error.message.contains("password authentication failed"))
        #expect(!error.description.contains(wrong))
    }

    @Test(
        "No password at all is refused with a connection error",
        .enabled(if: ProcessInfo.processInfo.environment["PGPASSWORD"] == nil, "PGPASSWORD supplies a password"))
    func missingPassword() throws {
        // Nor may a password file supply one.
        let url = try TestCluster.requireURL() + " passfile=/nonexistent"
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(url) }
        #expect(error.kind == .connection)
    }

    @Test("A socket directory with no server in it gives a connection error")
    func noServer() throws {
        let directory = try TemporaryDirectory(prefix: "sluice-pg-none", in: "/tmp")
        defer { directory.remove() }
        let error = try #require(throws: PostgresError.self) {
            try PostgresConnection("host=\(directory.path) port=5 dbname=x user=x connect_timeout=5", password: "x")
        }
        #expect(error.kind == .connection)
        #expect(error.sqlState == nil)
        #expect(error.message.contains(directory.path))
    }

    @Test("A malformed connection string gives a connection error")
    func malformedConninfo() {
        let error = #expect(throws: PostgresError.self) { try PostgresConnection("host=/tmp no_such_keyword=1") }
        #expect(error?.kind == .connection)
        #expect(error?.message.contains("no_such_keyword") == true)
    }

    @Test("NUL characters in connection arguments are refused before libpq sees them")
    func nulInConnectionArguments() {
        let error = #expect(throws: PostgresError.self) { try PostgresConnection("host=/tmp", password: "a\u{0}b") }
        #expect(error?.kind == .invalidArgument)
    }

    @Test("After close every call throws a connection error; closing twice is harmless")
    func closed() throws {
        let db = try TestCluster.connect()
        db.close()
        db.close()
        #expect(db.status == .closed)
        #expect(db.backendProcessID == 0)
        let error = #expect(throws: PostgresError.self) { try db.execute("SELECT 1") }
        #expect(error?.kind == .connection)
        #expect(throws: PostgresError.self) { try db.executeScript("SELECT 1") }
        #expect(throws: PostgresError.self) { try db.waitForNotifications(timeout: .milliseconds(10)) }
        #expect(throws: PostgresError.self) { try db.reset() }
    }

    @Test("A backend terminated from another connection shows as a connection error on the next call, and reset reconnects")
    func terminatedBackend() throws {
        let victim = try TestCluster.connect()
        let killer = try TestCluster.connect()
        try victim.listen("before_termination")
        // pg_terminate_backend with a timeout waits until the process is gone (PostgreSQL 14+).
        let terminated = try killer.execute("SELECT pg_terminate_backend($1::int4, 10000)", [.int64(Int64(victim.backendProcessID))])
        #expect(try terminated.first?.bool(0) == true)
        // libpq only learns of it when it next reads or writes the socket.
        #expect(victim.status == .ok)
        let error = try #require(throws: PostgresError.self) { try victim.execute("SELECT 1") }
        #expect(error.kind == .connection)
        #expect(victim.status == .bad)
        // libpq reports the loss itself (no SQLSTATE); the server's FATAL is in its message.
        #expect(error.message.contains("terminating connection due to administrator command"))
        // Every later call says the same, without touching the socket.
        #expect((#expect(throws: PostgresError.self) { try victim.execute("SELECT 1") })?.kind == .connection)
        #expect((#expect(throws: PostgresError.self) { try victim.transaction { () } })?.kind == .connection)

        try victim.reset()
        #expect(victim.status == .ok)
        #expect(try victim.execute("SELECT 1::int8").first?.int64(0) == 1)
        // A new session: the LISTEN is gone.
        #expect(try victim.execute("SELECT count(*) FROM pg_listening_channels()").first?.int64(0) == 0)
    }

    @Test("A connection lost while waiting for notifications throws a connection error")
    func terminatedWhileWaiting() throws {
        let victim = try TestCluster.connect()
        let killer = try TestCluster.connect()
        try victim.listen(TestCluster.uniqueName("lost"))
        try killer.execute("SELECT pg_terminate_backend($1::int4, 10000)", [.int64(Int64(victim.backendProcessID))])
        let error = try #require(throws: PostgresError.self) { try victim.waitForNotifications(timeout: .seconds(10)) }
        #expect(error.kind == .connection)
        #expect(victim.status == .bad)
    }

    @Test("A multi-statement script runs as one transaction: a failure leaves nothing behind")
    func script() throws {
        let db = try TestCluster.connect()
        let table = TestCluster.uniqueName("script")
        try db.executeScript(
            """
            CREATE TABLE \(table) (id int8 PRIMARY KEY, name text NOT NULL);
            INSERT INTO \(table) VALUES (1, 'one');
            INSERT INTO \(table) VALUES (2, 'two');
            """)
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        #expect(try db.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 2)

        let failing = TestCluster.uniqueName("failing")
        let error = try #require(throws: PostgresError.self) {
            try db.executeScript(
                """
                CREATE TABLE \(failing) (id int8);
                INSERT INTO \(table) VALUES (3, 'three');
                SELECT 1 / 0;
                """)
        }
        #expect(error.kind == .query)
        #expect(error.sqlState == "22012")
        #expect(try db.execute("SELECT to_regclass($1) IS NULL", [.text(failing)]).first?.bool(0) == true)
        #expect(try db.execute("SELECT count(*) FROM \(table)").first?.int64(0) == 2)
    }

    @Test("Notices (CREATE TABLE IF NOT EXISTS, RAISE NOTICE, ROLLBACK outside a transaction) are not errors")
    func notices() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE quiet (x int)")
        try db.execute("CREATE TEMP TABLE IF NOT EXISTS quiet (x int)")
        try db.executeScript("DO $$ BEGIN RAISE NOTICE 'a notice'; RAISE WARNING 'a warning'; END $$")
        try db.execute("ROLLBACK")
        #expect(db.status == .ok)
    }

    @Test("Two statements in one execute are refused by the server; the connection stays usable")
    func twoStatementsInExecute() throws {
        let db = try TestCluster.connect()
        let error = try #require(throws: PostgresError.self) { try db.execute("SELECT 1; SELECT 2") }
        #expect(error.kind == .query)
        #expect(error.sqlState == "42601")
        #expect(try db.execute("SELECT 3::int8").first?.int64(0) == 3)
    }

    @Test("COPY is refused and leaves the connection usable")
    func copyRefused() throws {
        let db = try TestCluster.connect()
        try db.execute("CREATE TEMP TABLE copied (x int)")
        let into = #expect(throws: PostgresError.self) { try db.execute("COPY copied FROM STDIN") }
        #expect(into?.kind == .invalidArgument)
        let out = #expect(throws: PostgresError.self) { try db.execute("COPY (SELECT 1) TO STDOUT") }
        #expect(out?.kind == .invalidArgument)
        #expect(try db.execute("SELECT 4::int8").first?.int64(0) == 4)
    }
}
