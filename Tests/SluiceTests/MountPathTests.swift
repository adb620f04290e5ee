import Testing

@testable import Sluice

/// Without `server.base_path` the mount path comes from SCRIPT_NAME, which only lighttpd sets to it.
@Suite struct MountPathTests {
    @Test("Without base_path behind a front server other than lighttpd: 500 saying to set it, not a redirect loop")
    func otherFrontServers() throws {
        let h = try AppHarness(config: AppHarness.configuration(server: "server: {},"))
        defer { h.remove() }
        for software in ["nginx/1.22.1", "Apache/2.4.62 (Debian)", "HAProxy 2.6.12"] {
            // nginx's SCRIPT_NAME for /sluice/ is /sluice/ (the whole path).
            let response = h.sendRaw("GET", "/sluice/", scriptName: "/sluice/", params: ["SERVER_SOFTWARE": software])
            #expect(response.status.code == 500, "\(software)")
            #expect(String(decoding: response.body, as: UTF8.self).contains("server.base_path"), "\(software)")
        }
        // lighttpd: SCRIPT_NAME is the mount path.
        let lighttpd = h.sendRaw("GET", "/sluice", scriptName: "/sluice", params: ["SERVER_SOFTWARE": "lighttpd/1.4.69"])
        #expect(lighttpd.status.code == 301 && lighttpd.header("Location") == "/sluice/")
    }
}
