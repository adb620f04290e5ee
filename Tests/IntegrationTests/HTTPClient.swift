import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A deliberately tiny HTTP/1.1 client over a raw TCP socket to `127.0.0.1`.
///
/// It exists so that tests control the exact bytes of each request: headers go out in the given order
/// and spelling (so `X-Forwarded_User` and `X-Forwarded-User` both reach lighttpd unchanged), which
/// `URLSession` would not guarantee. Every request sends `Connection: close` and reads until the
/// server closes, then parses `Content-Length`, chunked, or read-until-close bodies.
///
/// ```swift
/// let client = HTTPClient(port: harness.port, passwords: LighttpdHarness.passwords)
/// let response = try client.send("GET", "/sluice/healthz")
/// ```
struct HTTPClient: Sendable {
    /// The TCP port on 127.0.0.1 to connect to.
    let port: UInt16
    /// Passwords by user name, used to build `Authorization: Basic` for the `as:` argument.
    let passwords: [String: String]
    /// Send and receive timeout for each socket operation, in seconds.
    var timeoutSeconds: Int = 30
    /// The `Host` header sent; nil: `127.0.0.1:<port>` (a name selects a `$HTTP["host"]` block).
    var host: String? = nil

    /// A parsed HTTP response.
    struct Response: Sendable, CustomStringConvertible {
        /// The status code from the status line, e.g. 200.
        let status: Int
        /// Header fields in the order received.
        let headers: [(name: String, value: String)]
        /// The decoded body (chunked framing removed).
        let body: [UInt8]

        /// The first header with this name, compared case-insensitively.
        func header(_ name: String) -> String? {
            self.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }

        /// The body decoded as UTF-8 (invalid sequences replaced).
        var text: String { String(decoding: self.body, as: UTF8.self) }

        /// The body parsed as a JSON object.
        /// - Throws: `HTTPClientError` if the body is not a JSON object.
        func jsonObject() throws -> [String: Any] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(self.body)) as? [String: Any] else {
                throw HTTPClientError("expected a JSON object, got status \(self.status): \(self.text.prefix(500))")
            }
            return object
        }

        /// Status line summary and the start of the body, for test failure messages.
        var description: String { "HTTP \(self.status) \(self.text.prefix(1000))" }
    }

    /// Sends one request and reads the complete response.
    /// - Parameters:
    ///   - method: The request method, e.g. `GET`.
    ///   - target: The request target (path and query), sent as is.
    ///   - user: If set, adds `Authorization: Basic` with this user's password from `passwords`.
    ///   - headers: Extra header fields, sent verbatim and in this order.
    ///   - body: An optional body; `Content-Length` is added for it.
    /// - Returns: The parsed response.
    /// - Throws: `HTTPClientError` on socket errors, timeouts or a malformed response.
    func send(
        _ method: String,
        _ target: String,
        as user: String? = nil,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) throws -> Response {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(self.host ?? "127.0.0.1:\(self.port)")\r\n"
        if let user {
            let credentials = Data("\(user):\(self.passwords[user] ?? "")".utf8).base64EncodedString()
            head += "Authorization: Basic \(credentials)\r\n"
        }
        for (name, value) in headers {
            head += "\(name): \(value)\r\n"
        }
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "Connection: close\r\n\r\n"
        let raw = try self.exchange(Array(head.utf8) + (body ?? []))
        return try Self.parse(raw)
    }

    /// Sends a JSON body with `Content-Type: application/json`.
    /// - Parameters:
    ///   - target: The request target.
    ///   - json: The JSON text of the body.
    ///   - user: The basic-auth user, if any.
    ///   - headers: Extra header fields after Content-Type.
    /// - Returns: The parsed response.
    /// - Throws: `HTTPClientError` as `send` does.
    func postJSON(_ target: String, _ json: String, as user: String?, headers: [(String, String)] = []) throws -> Response {
        try self.send("POST", target, as: user, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    // MARK: - Socket I/O

    /// Connects, writes `request`, and reads until the peer closes the connection.
    private func exchange(_ request: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError("socket() failed", errno: errno) }
        defer { close(fd) }

        var timeout = timeval(tv_sec: self.timeoutSeconds, tv_usec: 0)
        let timeoutSize = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, timeoutSize)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, timeoutSize)

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = self.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian  // 127.0.0.1
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HTTPClientError("connect() to 127.0.0.1:\(self.port) failed", errno: errno) }

        var sent = 0
        while sent < request.count {
            // MSG_NOSIGNAL: a peer that closes early must give EPIPE, not kill the test process.
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HTTPClientError("send() failed", errno: errno)
            }
            sent += n
        }

        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                response += buffer[0..<n]
            } else if n == 0 {
                return response
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw HTTPClientError(
                    "no complete response within \(self.timeoutSeconds) s (\(response.count) bytes read)")
            } else {
                throw HTTPClientError("recv() failed", errno: errno)
            }
        }
    }

    // MARK: - Parsing

    /// Parses a complete response as read until the connection closed.
    static func parse(_ raw: [UInt8]) throws -> Response {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = Self.index(of: separator, in: raw, from: 0) else {
            throw HTTPClientError(
                "response has no end of header block: \(String(decoding: raw.prefix(300), as: UTF8.self))")
        }
        let lines = String(decoding: raw[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw HTTPClientError("malformed status line: \(lines[0])")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPClientError("malformed header line: \(line)") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((name: String(line[..<colon]), value: value))
        }
        let response = Response(status: status, headers: headers, body: [])
        let rest = Array(raw[(headEnd + separator.count)...])

        let body: [UInt8]
        if let coding = response.header("Transfer-Encoding"), coding.lowercased().contains("chunked") {
            body = try Self.decodeChunked(rest)
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else {
                throw HTTPClientError("bad Content-Length \(lengthText)")
            }
            guard rest.count >= length else {
                throw HTTPClientError("body truncated: Content-Length \(length), received \(rest.count)")
            }
            body = Array(rest.prefix(length))
        } else {
            body = rest  // Read until close.
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Removes chunked transfer coding; trailers are ignored.
    static func decodeChunked(_ data: [UInt8]) throws -> [UInt8] {
        let crlf: [UInt8] = [13, 10]
        var body: [UInt8] = []
        var position = 0
        while true {
            guard let lineEnd = Self.index(of: crlf, in: data, from: position) else {
                throw HTTPClientError("chunked body truncated in a size line")
            }
            let sizeLine = String(decoding: data[position..<lineEnd], as: UTF8.self)
            let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw HTTPClientError("bad chunk size line: \(sizeLine)")
            }
            position = lineEnd + crlf.count
            if size == 0 { return body }
            guard position + size + crlf.count <= data.count else { throw HTTPClientError("chunk truncated") }
            body += data[position..<(position + size)]
            position += size + crlf.count
        }
    }

    /// The index where `needle` first occurs in `haystack` at or after `start`.
    private static func index(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}

/// A failure of `HTTPClient`: a socket error (with its errno) or a malformed response.
struct HTTPClientError: Error, CustomStringConvertible {
    /// What went wrong, including the errno text if there was one.
    let description: String

    /// Creates an error; `errno` is rendered with `strerror`.
    init(_ message: String, errno code: Int32? = nil) {
        if let code {
            self.description = "\(message): \(String(cString: strerror(code))) (errno \(code))"
        } else {
            self.description = message
        }
    }
}
