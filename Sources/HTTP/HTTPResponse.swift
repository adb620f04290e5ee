/// A response the application returns; the transport writes it out.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// Header fields in the order they will be sent. Names are sent as given.
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]
    /// Whether `cgiHead` sends `Status:` first instead of last: for answers to lighttpd as a
    /// FastCGI authorizer (see `cgiHead`).
    public var statusFirst = false
    /// Set when the answer comes later (a long-poll): the transport parks the request and
    /// passes its sink to `deferred.start`; status, headers and body of this value are unused.
    public var deferred: DeferredResponse? = nil

    /// Creates a response.
    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Sets (replacing) a header value.
    public mutating func setHeader(_ name: String, _ value: String) {
        self.headers.removeAll { Self.sameName($0.name, name) }
        self.headers.append((name, value))
    }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        self.headers.first { Self.sameName($0.name, name) }?.value
    }

    /// ASCII case-insensitive equality of header names, without allocating.
    static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where x != y {
            let lx = x >= 65 && x <= 90 ? x + 32 : x
            let ly = y >= 65 && y <= 90 ? y + 32 : y
            if lx != ly { return false }
        }
        return true
    }

    /// The header block of a CGI/FastCGI response (RFC 3875 §6): every header, then `Status:`
    /// LAST, then the empty line.
    ///
    /// Why last: HAProxy 2.6's FastCGI mux (`src/mux_fcgi.c`) turns any response with a
    /// `Location` header into 302 unless a `Status:` header comes after it, so a 202 with
    /// `Location` (a trigger), a 301 or a 303 would all reach the client as 302. lighttpd,
    /// nginx and Apache accept `Status:` anywhere. A CR or LF byte inside a value is dropped: it
    /// would let a value start a header of its own (response splitting).
    ///
    /// With `statusFirst`, `Status:` comes first: lighttpd 1.4.69 reads an authorizer's headers
    /// as an approval (keeping only `Variable-*`) for as long as it has seen no status other
    /// than 200 (`src/http-header-glue.c`, `opts->authorizer`), so a refusal's `Content-Type`
    /// and `X-Request-Id` before a later `Status: 403` would be dropped.
    public var cgiHead: String {
        var head = self.statusFirst ? "Status: \(self.status.code) \(self.status.reason)\r\n" : ""
        for (name, value) in self.headers {
            // By bytes: "\r\n" is ONE Character in Swift, equal to neither "\r" nor "\n", so a
            // Character filter would let a CRLF pair through.
            let isBreak = { (byte: UInt8) in byte == 13 || byte == 10 }
            let clean = value.utf8.contains(where: isBreak) ? String(decoding: value.utf8.filter { !isBreak($0) }, as: UTF8.self) : value
            head += "\(name): \(clean)\r\n"
        }
        if !self.statusFirst { head += "Status: \(self.status.code) \(self.status.reason)\r\n" }
        return head + "\r\n"
    }

    /// A response that will be sent later through the request's sink (see `DeferredResponse`).
    public static func deferred(_ start: @escaping @Sendable (ResponseSink) -> Void) -> HTTPResponse {
        var response = HTTPResponse(status: .ok)
        response.deferred = DeferredResponse(start: start)
        return response
    }

    /// A UTF-8 text response of the given content type.
    public static func text(_ text: String, status: HTTPStatus = .ok, contentType: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// An HTML page (`text/html; charset=utf-8`). Security headers (CSP and the rest) are the
    /// application's to add, in one place, for every response.
    public static func html(_ html: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse.text(html, status: status, contentType: "text/html; charset=utf-8")
    }

    /// A JSON response from already-encoded bytes.
    public static func json(_ bytes: [UInt8], status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: bytes)
    }

    /// A redirect to a location the server built itself (never a client-supplied URL).
    public static func redirect(to location: String, status: HTTPStatus = .seeOther) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Location", location), ("Content-Type", "text/plain")],
            body: Array("See \(location)\n".utf8))
    }
}
