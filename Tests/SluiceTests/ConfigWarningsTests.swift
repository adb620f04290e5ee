import Foundation
import TestSupport
import Testing

@testable import Sluice

/// Settings that are valid but probably unsafe: reported as warnings by `sluice check` and at
/// start of `serve`, never refusing the file.
@Suite struct ConfigWarningsTests {
    /// 2026-06-15T12:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_781_524_800)

    static func warnings(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [ConfigProblem] {
        try ConfigWarnings.of(ConfigLoaderTests.load(text), now: Self.now)
    }

    static func proxy(_ peers: [String], remoteUser: Bool = true) -> String {
        let list = peers.map { "'\($0)'" }.joined(separator: ", ")
        return """
            { \(ConfigLoaderTests.minimal),
              identity: { \(remoteUser ? "remote_user: {}," : "")
                          proxy_headers: { user: 'X-Forwarded-User', trusted_peers: [\(list)] } } }
            """
    }

    @Test(
        "A trusted peer range that holds a loopback address, next to remote_user, is warned about",
        arguments: [
            "127.0.0.1", "127.0.0.1/32", "127.0.0.0/8", "127.0.0.2", "127.1.2.3/16", "::1", "::1/128", "0.0.0.0/0", "::/0",
            "::ffff:127.0.0.1", "::ffff:0:0/96", "64.0.0.0/2",
        ])
    func loopbackPeer(peer: String) throws {
        let warnings = try Self.warnings(Self.proxy(["10.0.0.5/32", peer]))
        #expect(warnings.count == 1)
        ConfigLoaderTests.expectProblem(warnings, at: "identity.proxy_headers.trusted_peers[1]", containing: "loopback")
        ConfigLoaderTests.expectProblem(warnings, at: "identity.proxy_headers.trusted_peers[1]", containing: "REMOTE_USER")
        ConfigLoaderTests.expectProblem(warnings, at: "identity.proxy_headers.trusted_peers[1]", containing: "X-Forwarded-User")
    }

    @Test(
        "Trusted peers away from loopback, or loopback without remote_user, give no warning",
        arguments: [
            (["10.0.0.5/32", "192.168.0.0/16", "fd00::/8", "::2", "128.0.0.0/1", "126.255.255.255"], true), (["127.0.0.1"], false),
        ])
    func noWarning(peers: [String], remoteUser: Bool) throws {
        #expect(try Self.warnings(Self.proxy(peers, remoteUser: remoteUser)).isEmpty)
    }

    @Test("Without an identity section remote_user is on, but no proxy headers: no warning")
    func defaults() throws {
        #expect(try Self.warnings("{ \(ConfigLoaderTests.minimal) }").isEmpty)
    }

    @Test("A service token whose expiry has passed is warned about; a future or undated one is not")
    func expiredTokens() throws {
        let digest = String(repeating: "ab", count: 32)
        let warnings = try Self.warnings(
            """
            { \(ConfigLoaderTests.minimal), roles: { ops: { grants: [] } },
              identity: { service_tokens: [
                { name: 'old', sha256: '\(digest)', roles: ['ops'], expires: '2026-06-14' },
                { name: 'today', sha256: '\(digest)', roles: ['ops'], expires: '2026-06-15' },
                { name: 'forever', sha256: '\(digest)', roles: ['ops'] },
                { name: 'hour', sha256: '\(digest)', roles: ['ops'], expires: '2026-06-15T11:00:00Z' },
              ] } }
            """)
        #expect(warnings.count == 2)
        ConfigLoaderTests.expectProblem(warnings, at: "identity.service_tokens[0].expires", containing: "\"old\" expired")
        ConfigLoaderTests.expectProblem(warnings, at: "identity.service_tokens[3].expires", containing: "\"hour\" expired")
    }

    @Test("A task whose program is missing or not executable here is warned about; placeholders and PATH names that exist are not")
    func programs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let plain = try dir.write("not-executable.sh", "echo hi\n")
        let warnings = try Self.warnings(
            """
            { pipelines: { p: { params: { tool: {} }, tasks: {
                gone:     { run: ["/nonexistent/sluice-test-program"] },
                notexec:  { run: ["\(plain)"] },
                unknown:  { run: ["sluice-no-such-program-here"] },
                onpath:   { run: ["true"] },
                absolute: { run: ["/bin/true"] },
                template: { run: ["{tool}"] },
                relative: { run: ["./build.sh"] },
                ownpath:  { run: ["true"], env: { PATH: "/nonexistent-dir" } },
            } } } }
            """)
        let paths = warnings.map(\.path)
        #expect(
            Set(paths)
                == [
                    "pipelines.p.tasks.gone.run[0]", "pipelines.p.tasks.notexec.run[0]", "pipelines.p.tasks.unknown.run[0]",
                    "pipelines.p.tasks.ownpath.run[0]",
                ] && paths.count == 4, "\(warnings)")
        #expect(warnings.first { $0.path.hasSuffix("unknown.run[0]") }?.message.contains("not found in PATH") == true, "\(warnings)")
        #expect(warnings.first { $0.path.hasSuffix("gone.run[0]") }?.message.contains("not an executable file") == true, "\(warnings)")
    }

    @Test("Warnings are located at the line of their key, as problems are")
    func located() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write(
            "sluice.json5", Self.proxy(["127.0.0.1"]).replacingOccurrences(of: "trusted_peers: [", with: "trusted_peers: [\n"))
        let configuration = try ConfigLoader.load(path: path)
        let warnings = ConfigWarnings.located(ConfigWarnings.of(configuration), file: path)
        #expect(warnings.map(\.line) == [4])
        let message = try #require(warnings.first?.message)
        #expect(
            ConfigWarnings.describe(warnings, file: path) == ["\(path):4: warning: identity.proxy_headers.trusted_peers[0]: \(message)"])
    }

    @Test("sluice check accepts a configuration that has only warnings")
    func checkExitsZero() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("sluice.json5", Self.proxy(["127.0.0.1"]))
        #expect(Server.check(configPath: path) == 0)
    }

    @Test("sluice token new warns about an expiry in the past, and only then")
    func tokenExpiry() {
        #expect(Commands.expiryWarning("2026-06-14", now: Self.now)?.contains("2026-06-14") == true)
        #expect(Commands.expiryWarning("2026-06-15T11:59:59Z", now: Self.now) != nil)
        #expect(Commands.expiryWarning("2026-06-15", now: Self.now) == nil, "a date means through the end of that day")
        #expect(Commands.expiryWarning("2027-06-30", now: Self.now) == nil)
    }

    @Test("An expiry date-time is that instant; a bare date lasts through the end of its day (UTC)")
    func expiryParsing() {
        #expect(ConfigLoader.parseExpiry("2026-06-15T11:00:00Z") == Date(timeIntervalSince1970: 1_781_521_200))
        #expect(ConfigLoader.parseExpiry("2026-06-15T11:00:00+02:00") == Date(timeIntervalSince1970: 1_781_514_000))
        #expect(ConfigLoader.parseExpiry("2026-06-15") == Date(timeIntervalSince1970: 1_781_568_000))
        #expect(ConfigLoader.parseExpiry("15.06.2026") == nil)
        // Trailing text after a date-time is refused, not silently dropped.
        #expect(ConfigLoader.parseExpiry("2026-06-15T11:00:00Zjunk") == nil)
        #expect(ConfigLoader.parseExpiry("2026-06-15T11:00:00Z 2027") == nil)
    }
}

extension ConfigWarningsTests {
    @Test("A default role that grants admin is warned about; one without admin is not")
    func defaultRoleAdmin() throws {
        func config(_ verbs: String) -> String {
            """
            { \(ConfigLoaderTests.minimal),
              roles: { everyone: { grants: [{ pipelines: ['*'], verbs: [\(verbs)] }] } },
              identity: { remote_user: {}, default_role: 'everyone' } }
            """
        }
        let warnings = try Self.warnings(config("'view', 'admin'"))
        #expect(warnings.count == 1)
        ConfigLoaderTests.expectProblem(warnings, at: "identity.default_role", containing: "grants admin (roles.everyone.grants[0])")
        ConfigLoaderTests.expectProblem(warnings, at: "identity.default_role", containing: "drain")
        #expect(try Self.warnings(config("'view'")).isEmpty)
    }
}
