internal import CFastCGI
import HTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Copies a libfcgi request's params and body into Swift values.
enum RequestReader {
    /// The params of a request: each name once, and apart those that came several times with
    /// different values.
    struct Params {
        /// Names that came once (or several times with the same value), with their value.
        var single: [String: String] = [:]
        /// Names that came several times with different values, with every value in order. Not
        /// in `single`: the application decides (`HTTPRequest.mergingRepeatedParams`).
        var repeated: [String: [String]] = [:]
    }

    /// Walks the whole `envp` array (not `FCGX_GetParam`, which returns only the first match)
    /// and copies every `NAME=VALUE` pair.
    ///
    /// A name can come twice: nginx and HAProxy pass a header sent on two lines as two params,
    /// nginx's `fastcgi_param` can repeat a name (Debian's `fastcgi_params` already sets
    /// `REMOTE_USER`), and CGI's mapping makes `X-Foo` and `X_Foo` one name (lighttpd passes
    /// both). The same value twice is one value; different values are kept apart.
    static func params(_ envp: FCGX_ParamArray?) -> Params {
        var result = Params()
        guard var cursor = envp else { return result }
        result.single.reserveCapacity(48)
        while let entry = cursor.pointee {
            // The pointers are only valid until FCGX_Finish_r, so copy now: name and value are
            // decoded straight from the C bytes on each side of the first `=` (invalid UTF-8
            // becomes U+FFFD, as with String(cString:)).
            let length = strlen(entry)
            let bytes = UnsafeRawBufferPointer(start: entry, count: length)
            let name: String
            let value: String
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                name = String(decoding: bytes[..<eq], as: UTF8.self)
                value = String(decoding: bytes[(eq + 1)...], as: UTF8.self)
            } else {
                name = String(decoding: bytes, as: UTF8.self)
                value = ""
            }
            // One hash of the name for the usual param (a new name): `repeated` is nearly always
            // empty, and `updateValue` looks up and inserts at once.
            if !result.repeated.isEmpty, result.repeated[name] != nil {
                result.repeated[name]!.append(value)
            } else if let earlier = result.single.updateValue(value, forKey: name) {
                // Compared as bytes: a value that differs only by canonical equivalence is another value.
                if !earlier.utf8.elementsEqual(value.utf8) {
                    result.single.removeValue(forKey: name)
                    result.repeated[name] = [earlier, value]
                }
            }
            cursor += 1
        }
        return result
    }

    /// Reads exactly `CONTENT_LENGTH` bytes from the FastCGI stdin stream.
    ///
    /// An empty `CONTENT_LENGTH` means no body (nginx sends it empty). A value that is not a
    /// plain decimal number is a 400; one above `limit` is a 413 and the body is not read.
    static func body(_ stream: UnsafeMutablePointer<FCGX_Stream>?, contentLength: String?, limit: Int) -> Result<[UInt8], HTTPError> {
        guard let text = contentLength, !text.isEmpty else { return .success([]) }
        guard text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let length = Int(text)
        else { return .failure(HTTPError(.badRequest, "invalid Content-Length")) }
        guard length <= limit else {
            return .failure(HTTPError(.payloadTooLarge, "request body larger than \(limit) bytes"))
        }
        guard length > 0, let stream else { return .success([]) }
        var body = [UInt8](repeating: 0, count: length)
        var filled = 0
        while filled < length {
            let n = body.withUnsafeMutableBufferPointer { buffer in
                (buffer.baseAddress! + filled).withMemoryRebound(to: CChar.self, capacity: length - filled) {
                    FCGX_GetStr($0, Int32(length - filled), stream)
                }
            }
            if n <= 0 { break }
            filled += Int(n)
        }
        guard filled == length else { return .failure(HTTPError(.badRequest, "request body shorter than Content-Length")) }
        return .success(body)
    }
}
