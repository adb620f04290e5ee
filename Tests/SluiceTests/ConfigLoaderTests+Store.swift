import Foundation
import TestSupport
import Testing

@testable import Sluice

#if canImport(Glibc)
    import Glibc
#endif

/// `store`: SQLite when absent, `store.postgres` with a URL, a pool size and a password that
/// never comes from the configuration text.
extension ConfigLoaderTests {
    static func withStore(_ store: String) -> String { "{ \(Self.minimal), store: \(store) }" }

    @Test("No store section means SQLite in the data directory")
    func storeDefaultsToSQLite() throws {
        #expect(try Self.load("{ \(Self.minimal) }").store == .sqlite)
    }

    @Test("store.postgres parses: URL or conninfo, pool, password from a file (relative to the configuration) or a variable")
    func postgresStoreParses() throws {
        let file = try Self.load(
            Self.withStore(
                #"{ postgres: { url: "postgresql://sluice@db.internal:5432/sluice?sslmode=verify-full", password_file: "secrets/pg", pool: 8 } }"#
            ))
        #expect(
            file.store
                == .postgres(
                    .init(
                        url: "postgresql://sluice@db.internal:5432/sluice?sslmode=verify-full", password: .file("/srv/sluice/secrets/pg"),
                        pool: 8)))
        let variable = try Self.load(
            Self.withStore(#"{ postgres: { url: "host=/run/postgresql dbname=sluice user=sluice", password_env: "PGPW" } }"#))
        #expect(
            variable.store
                == .postgres(.init(url: "host=/run/postgresql dbname=sluice user=sluice", password: .environment("PGPW"), pool: 4)))
        let none = try Self.load(Self.withStore(#"{ postgres: { url: "postgres:///sluice" } }"#))
        #expect(none.store == .postgres(.init(url: "postgres:///sluice", password: nil, pool: 4)))
    }

    @Test(
        "A password in the URL or conninfo is refused: it belongs in password_file or password_env",
        arguments: [
            "postgresql://sluice:hunter2@db/sluice", "postgres://u:@db/x", "postgresql://db/sluice?sslmode=require&password=x",
            "host=db password=x", "host=db  password = 'x'", "password=x",
        ])
    func passwordInURLRefused(url: String) {
        let problems = Self.problems(Self.withStore("{ postgres: { url: \(Self.key(url)) } }"))
        Self.expectProblem(problems, at: "store.postgres.url", containing: "password")
        #expect(!problems.contains { $0.message.contains("hunter2") }, "the password itself is never echoed")
    }

    @Test("URLs that carry no password are accepted, including an @ in a path or a password-like word elsewhere")
    func passwordLookalikesAccepted() throws {
        for url in ["postgresql://sluice@db/sluice", "postgresql://db/sluice?application_name=passwordless", "host=db user=password_admin"]
        {
            #expect(throws: Never.self, "\(url)") { _ = try Self.load(Self.withStore("{ postgres: { url: \(Self.key(url)) } }")) }
        }
    }

    @Test("store.postgres.host and lease_seconds: the host id defaults to host name and data directory; bounds are checked")
    func hostAndLease() throws {
        let set = try Self.load(Self.withStore(#"{ postgres: { url: "postgres:///x", host: "runner-\u212A", lease_seconds: 4.5 } }"#))
        guard case .postgres(let postgres) = set.store else { Issue.record("not postgres: \(set.store)"); return }
        #expect(postgres.host == "runner-\u{212A}")
        #expect(postgres.leaseSeconds == 4.5)
        #expect(postgres.hostID(dataDirectory: "/srv/sluice/data") == "runner-\u{212A}")
        let unset = try Self.load(Self.withStore(#"{ postgres: { url: "postgres:///x" } }"#))
        guard case .postgres(let defaults) = unset.store else { Issue.record("not postgres: \(unset.store)"); return }
        #expect(defaults.host == nil)
        #expect(defaults.leaseSeconds == 15)
        var name = [CChar](repeating: 0, count: 256)
        #expect(gethostname(&name, 255) == 0)
        #expect(defaults.hostID(dataDirectory: "/srv/sluice/data") == String(cString: name) + ":/srv/sluice/data")
        for (value, message) in [
            (#""""#, "empty"), ("\"" + String(repeating: "h", count: 201) + "\"", "200 bytes"), (#""a\u0007b""#, "control"),
            ("7", "string"),
        ] {
            Self.expectProblem(
                Self.problems(Self.withStore("{ postgres: { url: \"postgres:///x\", host: \(value) } }")), at: "store.postgres.host",
                containing: message)
        }
        for value in ["0.5", "601", "-1", "\"15\""] {
            Self.expectProblem(
                Self.problems(Self.withStore("{ postgres: { url: \"postgres:///x\", lease_seconds: \(value) } }")),
                at: "store.postgres.lease_seconds", containing: value == "\"15\"" ? "number" : "1 to 600")
        }
    }

    @Test("Malformed store sections are reported with their key paths")
    func malformedStore() {
        Self.expectProblem(Self.problems(Self.withStore("{}")), at: "store", containing: "name a store")
        Self.expectProblem(Self.problems(Self.withStore("{ mysql: {} }")), at: "store.mysql", containing: "unknown")
        Self.expectProblem(Self.problems(Self.withStore("{ postgres: {} }")), at: "store.postgres.url", containing: "required")
        Self.expectProblem(Self.problems(Self.withStore(#"{ postgres: { url: "" } }"#)), at: "store.postgres.url", containing: "empty")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "just-a-host" } }"#)), at: "store.postgres.url", containing: "key=value")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "host=db\nuser=x" } }"#)), at: "store.postgres.url", containing: "control")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "postgres:///x", pool: 0 } }"#)), at: "store.postgres.pool",
            containing: "whole number")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "postgres:///x", pool: 65 } }"#)), at: "store.postgres.pool",
            containing: "whole number")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "postgres:///x", password_file: "f", password_env: "V" } }"#)),
            at: "store.postgres", containing: "not both")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "postgres:///x", password_env: "1BAD" } }"#)),
            at: "store.postgres.password_env", containing: "invalid")
        Self.expectProblem(
            Self.problems(Self.withStore(#"{ postgres: { url: "postgres:///x", password: "hunter2" } }"#)),
            at: "store.postgres.password", containing: "unknown")
    }

    @Test("The password is read from its file (one final line break dropped) or variable, with clear errors")
    func readPassword() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("pw")
        try Data("s3cr:t @/é\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try StoreSettings.readPassword(.file(path)) == "s3cr:t @/é")
        try Data("a\nb\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreSettings.PasswordError.self) { try StoreSettings.readPassword(.file(path)) }
        try Data("\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreSettings.PasswordError.self) { try StoreSettings.readPassword(.file(path)) }
        #expect(throws: StoreSettings.PasswordError.self) { try StoreSettings.readPassword(.file(dir.file("missing"))) }
        #expect(try StoreSettings.readPassword(.environment("PW"), environment: ["PW": "x y"]) == "x y")
        #expect(throws: StoreSettings.PasswordError.self) { try StoreSettings.readPassword(.environment("PW"), environment: [:]) }
        #expect(throws: StoreSettings.PasswordError.self) { try StoreSettings.readPassword(.environment("PW"), environment: ["PW": ""]) }
    }
}

@Suite struct StorePasswordWarningTests {
    static func postgres(_ source: StoreSettings.PasswordSource?) -> StoreSettings {
        .postgres(.init(url: "postgres:///sluice", password: source, pool: 4))
    }

    @Test("check warns about a password that serve could not read, or that others may read")
    func warnings() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("pw")
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect(ConfigWarnings.storePassword(Self.postgres(.file(path))).isEmpty)
        chmod(path, 0o644)
        let open = ConfigWarnings.storePassword(Self.postgres(.file(path)))
        #expect(open.map(\.path) == ["store.postgres.password_file"])
        #expect(open.first?.message.contains("chmod 600") == true)
        #expect(ConfigWarnings.storePassword(Self.postgres(.file(dir.file("missing")))).map(\.path) == ["store.postgres.password_file"])
        #expect(
            ConfigWarnings.storePassword(Self.postgres(.environment("PW")), environment: [:]).map(\.path) == ["store.postgres.password_env"]
        )
        #expect(ConfigWarnings.storePassword(Self.postgres(.environment("PW")), environment: ["PW": "x"]).isEmpty)
        #expect(ConfigWarnings.storePassword(Self.postgres(nil)).isEmpty)
        #expect(ConfigWarnings.storePassword(.sqlite).isEmpty)
        #expect(!open.contains { $0.message.contains("secret") }, "never the password itself")
    }
}
