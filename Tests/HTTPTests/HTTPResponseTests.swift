import HTTP
import Testing

@Suite struct HTTPResponseTests {
    @Test("HTML responses carry CSP with frame-ancestors 'none', nosniff and a charset")
    func htmlHeaders() throws {
        let response = HTTPResponse.html("<p>x</p>", status: .notFound)
        #expect(response.status == .notFound)
        #expect(response.header("Content-Type") == "text/html; charset=utf-8")
        let csp = try #require(response.header("Content-Security-Policy"))
        #expect(csp.contains("frame-ancestors 'none'"))
        #expect(csp.contains("default-src 'self'"))
        #expect(!csp.contains("script-src"))
        #expect(response.header("X-Content-Type-Options") == "nosniff")
        #expect(response.body == Array("<p>x</p>".utf8))
    }

    @Test("Setting a header replaces earlier values regardless of case")
    func setHeaderReplaces() {
        var response = HTTPResponse(status: .ok, headers: [("content-type", "a"), ("X-Other", "1"), ("CONTENT-TYPE", "b")])
        response.setHeader("Content-Type", "c")
        #expect(response.headers.filter { $0.name.lowercased() == "content-type" }.map(\.value) == ["c"])
        #expect(response.header("x-other") == "1")
    }

    @Test("A redirect sets Location and the status")
    func redirect() {
        let response = HTTPResponse.redirect(to: "/sluice/", status: .movedPermanently)
        #expect(response.status.code == 301)
        #expect(response.header("Location") == "/sluice/")
        #expect(HTTPResponse.redirect(to: "/x").status.code == 303)
    }

    @Test("JSON responses are not cached and not sniffed")
    func jsonHeaders() {
        let response = HTTPResponse.json(Array("{}".utf8), status: .accepted)
        #expect(response.status.code == 202)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Cache-Control") == "no-store")
        #expect(response.header("X-Content-Type-Options") == "nosniff")
    }
}
