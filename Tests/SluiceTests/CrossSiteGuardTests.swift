import Testing

@testable import Sluice

/// Same-origin by scheme, host and port, with `SERVER_PORT` standing in for a `Host` without one.
@Suite struct CrossSiteGuardTests {
    @Test(
        "Matching origins",
        arguments: [
            ("http://sluice.example", "sluice.example", false, "80"),
            ("http://sluice.example:80", "sluice.example", false, nil),
            ("https://sluice.example", "Sluice.Example:443", true, "443"),
            // nginx's $host drops the port the browser sent: SERVER_PORT says it.
            ("http://127.0.0.1:8080", "127.0.0.1", false, "8080"),
            ("http://[::1]:8080", "[::1]", false, "8080"),
            ("http://[::1]:8080", "[::1]:8080", false, "80"),
        ] as [(String, String, Bool, String?)])
    func same(origin: String, host: String, https: Bool, serverPort: String?) {
        #expect(CrossSiteGuard.isSameOrigin(origin, host: host, https: https, serverPort: serverPort))
    }

    @Test(
        "Other origins and malformed ones",
        arguments: [
            ("http://evil.example", "sluice.example", false, "80"),
            ("https://sluice.example", "sluice.example", false, "80"),  // scheme differs
            ("http://sluice.example:8081", "sluice.example", false, "8080"),
            ("http://sluice.example", "sluice.example", false, "8080"),  // default 80 vs 8080
            ("http://sluice.example:8080", "sluice.example:80", false, "8080"),  // Host's own port wins
            ("null", "sluice.example", false, "80"),
            ("http://sluice.example/path", "sluice.example", false, "80"),
            ("http://user@sluice.example", "sluice.example", false, "80"),
            ("http://sluice.example:99999", "sluice.example", false, "80"),
            ("http://sluice.example:", "sluice.example", false, "80"),
            ("http://sluice.exampl\u{212A}", "sluice.examplk", false, "80"),  // bytes, not canonical equivalence
            ("http://", "", false, "80"),
        ] as [(String, String, Bool, String?)])
    func other(origin: String, host: String, https: Bool, serverPort: String?) {
        #expect(!CrossSiteGuard.isSameOrigin(origin, host: host, https: https, serverPort: serverPort))
    }
}
