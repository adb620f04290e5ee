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
        // Room for what the application adds to every answer (request id, the security
        // headers, an entity tag): grown one append at a time, the list was reallocated two or
        // three times per request.
        var list = headers
        list.reserveCapacity(headers.count + 8)
        self.headers = list
        self.body = body
    }

    /// Sets (replacing) a header value.
    public mutating func setHeader(_ name: String, _ value: String) {
        // Removes only when there is one to remove: `removeAll(where:)` rebuilds the list's tail
        // even when nothing matches.
        if self.headers.contains(where: { Self.sameName($0.name, name) }) {
            self.headers.removeAll { Self.sameName($0.name, name) }
        }
        self.headers.append((name, value))
    }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        self.headers.first { Self.sameName($0.name, name) }?.value
    }

    /// ASCII case-insensitive equality of header names, without allocating.
    public static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        // Over the contiguous bytes where there are (native strings): zipping the two views
        // walked them through their witness tables, a call per byte.
        let compared = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in Self.sameIgnoringASCIICase(x, y) }
        }
        if let compared, let same = compared { return same }
        return Self.sameIgnoringASCIICase(a.utf8, b.utf8)
    }

    /// Whether two byte sequences of the same length are equal but for ASCII letter case.
    private static func sameIgnoringASCIICase<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ a: A, _ b: B) -> Bool {
        for (x, y) in zip(a, b) where x != y {
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
    public var cgiHead: String { String(decoding: self.cgiHeadBytes, as: UTF8.self) }

    /// `cgiHead` as the bytes the transport writes, built in one buffer (a profile of light
    /// requests found 5–7 % of the CPU in building the String by interpolation and copying it).
    public var cgiHeadBytes: [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(self.headers.reduce(64) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        if self.statusFirst { self.appendStatus(to: &head) }
        for (name, value) in self.headers {
            head.append(contentsOf: name.utf8)
            head.append(UInt8(ascii: ":"))
            head.append(UInt8(ascii: " "))
            // By bytes: "\r\n" is ONE Character in Swift, equal to neither "\r" nor "\n", so a
            // Character filter would let a CRLF pair through. A value without either (every
            // value Sluice sets) is copied whole: byte by byte showed in profiles of light requests.
            let breaksLine = value.utf8.withContiguousStorageIfAvailable { $0.contains { $0 == 13 || $0 == 10 } }
            if breaksLine ?? value.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
                for byte in value.utf8 where byte != 13 && byte != 10 { head.append(byte) }
            } else {
                head.append(contentsOf: value.utf8)
            }
            head.append(13)
            head.append(10)
        }
        if !self.statusFirst { self.appendStatus(to: &head) }
        head.append(13)
        head.append(10)
        return head
    }

    /// Appends `Status: <code> <reason>\r\n`.
    private func appendStatus(to head: inout [UInt8]) {
        head.append(contentsOf: "Status: ".utf8)
        // Three digits written directly: `String(code)` allocated a string per response.
        let code = Int(self.status.code)
        if (100...999).contains(code) {
            head.append(UInt8(ascii: "0") + UInt8(code / 100))
            head.append(UInt8(ascii: "0") + UInt8(code / 10 % 10))
            head.append(UInt8(ascii: "0") + UInt8(code % 10))
        } else {
            head.append(contentsOf: String(code).utf8)
        }
        head.append(UInt8(ascii: " "))
        head.append(contentsOf: self.status.reason.utf8)
        head.append(13)
        head.append(10)
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
