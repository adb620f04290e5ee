import Testing

/// The test client's response parsing, without a server: if it misreads framing, every
/// integration test would report nonsense.
@Suite("HTTPClient response parsing")
struct HTTPClientTests {
    @Test("a chunked body is decoded, chunk extensions and trailers ignored; header lookup ignores case")
    func chunked() throws {
        let raw =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
            + "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"
        let response = try HTTPClient.parse(Array(raw.utf8))
        #expect(response.status == 200)
        #expect(response.text == "hello, world")
        #expect(response.header("x-a") == "b")
    }

    @Test("Content-Length limits the body; without it the body runs until the connection closed")
    func lengths() throws {
        let limited = try HTTPClient.parse(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabcdef".utf8))
        #expect(limited.status == 404)
        #expect(limited.text == "abc")
        let unlimited = try HTTPClient.parse(Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nrest".utf8))
        #expect(unlimited.text == "rest")
    }

    @Test("truncated bodies are errors, not short successes")
    func truncated() {
        #expect(throws: HTTPClientError.self) {
            try HTTPClient.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        }
        #expect(throws: HTTPClientError.self) {
            try HTTPClient.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel".utf8))
        }
    }
}
