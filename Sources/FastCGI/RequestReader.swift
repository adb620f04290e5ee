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
        var single = ParamTable()
        /// Names that came several times with different values, with every value in order. Not
        /// in `single`: the application decides (`HTTPRequest.mergingRepeatedParams`).
        var repeated: [String: [String]] = [:]
    }

    /// Walks the whole `envp` array (not `FCGX_GetParam`, which returns only the first match)
    /// and copies every `NAME=VALUE` pair into one table of bytes (`ParamTable`).
    ///
    /// A name can come twice: nginx and HAProxy pass a header sent on two lines as two params,
    /// nginx's `fastcgi_param` can repeat a name (Debian's `fastcgi_params` already sets
    /// `REMOTE_USER`), and CGI's mapping makes `X-Foo` and `X_Foo` one name (lighttpd passes
    /// both). The same value twice is one value (compared as bytes); different values are kept
    /// apart.
    static func params(_ envp: FCGX_ParamArray?) -> Params {
        var result = Params()
        guard let envp else { return result }
        // The pointers are only valid until FCGX_Finish_r, so copy now. One pass to size the
        // table's buffer, one to fill it.
        var count = 0
        var total = 0
        var cursor = envp
        while let entry = cursor.pointee {
            count += 1
            total += strlen(entry)
            cursor += 1
        }
        result.single.reserve(count: count, bytes: total)
        cursor = envp
        while let entry = cursor.pointee {
            let bytes = UnsafeRawBufferPointer(start: entry, count: strlen(entry))
            let eq = bytes.firstIndex(of: UInt8(ascii: "=")) ?? bytes.count
            let name = UnsafeRawBufferPointer(rebasing: bytes[..<eq])
            let value = UnsafeRawBufferPointer(rebasing: bytes[min(eq + 1, bytes.count)...])
            cursor += 1
            if !result.repeated.isEmpty, case let key = String(decoding: name, as: UTF8.self), result.repeated[key] != nil {
                result.repeated[key]!.append(String(decoding: value, as: UTF8.self))
            } else if let earlier = result.single.index(ofName: name) {
                // Compared as bytes: a value that differs only by canonical equivalence is another value.
                guard !result.single.valueEquals(at: earlier, value) else { continue }
                let key = String(decoding: name, as: UTF8.self)
                result.repeated[key] = [result.single.value(at: earlier), String(decoding: value, as: UTF8.self)]
                result.single.remove(at: earlier)
            } else {
                result.single.appendNew(name: name, value: value)
            }
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
