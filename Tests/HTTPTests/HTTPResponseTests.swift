import HTTP
import Testing

@Suite struct HTTPResponseTests {
    @Test("HTML responses carry the content type with a charset and the body")
    func htmlHeaders() throws {
        let response = HTTPResponse.html("<p>x</p>", status: .notFound)
        #expect(response.status == .notFound)
        #expect(response.header("Content-Type") == "text/html; charset=utf-8")
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

    @Test("JSON responses carry their content type and status")
    func jsonHeaders() {
        let response = HTTPResponse.json(Array("{}".utf8), status: .accepted)
        #expect(response.status.code == 202)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.body == Array("{}".utf8))
    }

    @Test("The CGI header block puts Status after every header (HAProxy makes Location without a later Status a 302)")
    func cgiHeadStatusLast() {
        var response = HTTPResponse.redirect(to: "/sluice/", status: .movedPermanently)
        response.setHeader("X-Request-Id", "r1")
        #expect(
            response.cgiHead
                == "Location: /sluice/\r\nContent-Type: text/plain\r\nX-Request-Id: r1\r\nStatus: 301 Moved Permanently\r\n\r\n")
        #expect(HTTPResponse(status: .accepted).cgiHead == "Status: 202 Accepted\r\n\r\n")
    }

    @Test("The CGI header block drops CR and LF inside values (no response splitting)")
    func cgiHeadNoSplitting() {
        let response = HTTPResponse(status: .ok, headers: [("Location", "/a\r\nSet-Cookie: x=1"), ("X-B", "\n\n")])
        #expect(response.cgiHead == "Location: /aSet-Cookie: x=1\r\nX-B: \r\nStatus: 200 OK\r\n\r\n")
        #expect(response.cgiHead.components(separatedBy: "\r\n").count == 5)
    }
}
