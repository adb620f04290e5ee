import Foundation

/// A request as the application sees it, independent of the transport (FastCGI today).
///
/// Every value is a Swift copy: nothing here points into C memory.
public struct HTTPRequest: Sendable {
    /// The request method, upper-case (`GET`, `POST`, ...).
    public var method: String
    /// The raw request target as sent by the client (`REQUEST_URI`): percent-encoded path and query.
    public var requestURI: String
    /// The mount path the front server matched (`SCRIPT_NAME`), e.g. `/sluice`; may be empty.
    public var scriptName: String
    /// All transport parameters (CGI variables: `HTTP_*`, `REMOTE_USER`, `REMOTE_ADDR`, ...)
    /// that came once, or several times with the same value; looked up by name as bytes.
    public var params: ParamTable
    /// Parameters that came several times with different values (a header on two lines, or
    /// under two spellings that CGI maps to one name: `X-Foo` and `X_Foo`), every value in
    /// order. They are not in `params` until `mergingRepeatedParams` decides.
    public var repeatedParams: [String: [String]]
    /// The request body, already capped by the transport.
    public var body: [UInt8]

    /// Creates a request.
    public init(
        method: String, requestURI: String, scriptName: String = "",
        params: ParamTable = [:], repeatedParams: [String: [String]] = [:], body: [UInt8] = []
    ) {
        self.method = method
        self.requestURI = requestURI
        self.scriptName = scriptName
        self.params = params
        self.repeatedParams = repeatedParams
        self.body = body
    }

    /// Creates a request whose params come as a dictionary (requests made in code and tests).
    public init(
        method: String, requestURI: String, scriptName: String = "",
        paramsDictionary: [String: String], repeatedParams: [String: [String]] = [:], body: [UInt8] = []
    ) {
        self.init(
            method: method, requestURI: requestURI, scriptName: scriptName, params: ParamTable(paramsDictionary),
            repeatedParams: repeatedParams, body: body)
    }

    /// The request with its repeated parameters merged into `params` as HTTP merges a header's
    /// field lines (RFC 9110 §5.3: the values joined by ", ", in order), unless one of them is
    /// a name `mustBeSingle` says a decision depends on: then a 400 naming it, since which value
    /// a reader would take is arbitrary (an identity header under two spellings, two `Origin`s).
    /// - Parameter mustBeSingle: whether a param name (`HTTP_ORIGIN`, `REMOTE_USER`) must come once.
    /// - Throws: `HTTPError` 400 naming the first such parameter (by byte order).
    public func mergingRepeatedParams(mustBeSingle: (String) -> Bool) throws(HTTPError) -> HTTPRequest {
        guard !self.repeatedParams.isEmpty else { return self }
        let names = self.repeatedParams.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if let refused = names.first(where: mustBeSingle) {
            throw HTTPError(
                .badRequest,
                "ambiguous request: \(Self.headerName(ofParam: refused)) was sent several times with different values, or under several spellings"
            )
        }
        var merged = self
        for name in names { merged.params[name] = self.repeatedParams[name]!.joined(separator: ", ") }
        merged.repeatedParams = [:]
        return merged
    }

    /// How a client spelled the header behind a CGI param, for messages: `HTTP_X_FORWARDED_USER`
    /// → `X-Forwarded-User` (or `X_Forwarded_User`: CGI cannot tell); a non-header param as is.
    static func headerName(ofParam name: String) -> String {
        guard name.hasPrefix("HTTP_") else { return name }
        return name.dropFirst(5).split(separator: "_", omittingEmptySubsequences: false).map { word in
            word.prefix(1).uppercased() + word.dropFirst().lowercased()
        }.joined(separator: "-")
    }

    /// The percent-encoded path part of `requestURI` (everything before `?`).
    public var rawPath: String {
        if let q = self.queryMark { return String(self.requestURI[..<q]) }
        return self.requestURI
    }

    /// The decoded query parameters; the first value wins for repeated names.
    public var query: [String: String] {
        guard let q = self.queryMark else { return [:] }
        return FormDecoder.decode(String(self.requestURI[self.requestURI.utf8.index(after: q)...]))
    }

    /// Where the first `?` byte of the request URI is, as the front server splits it: by bytes,
    /// not Characters (`firstIndex(of: "?")` missed a `?` followed by a combining mark, which
    /// makes one Character with it, and its grapheme breaking was 3 % of a job's JSON).
    private var queryMark: String.Index? { self.requestURI.utf8.firstIndex(of: UInt8(ascii: "?")) }

    /// The media type of the body, lower-case and without parameters (`application/json` for
    /// `Application/JSON; charset=utf-8`), or nil without a Content-Type.
    public var mediaType: String? {
        guard let type = self.header("Content-Type") else { return nil }
        // Bytes, not Foundation's `split`/`trimmingCharacters`/`lowercased` (3 % of a trigger's
        // CPU in a profile): the part before the first `;`, without surrounding spaces and tabs,
        // ASCII letters in lower case (a media type is a token; other bytes are kept as they are).
        var bytes = Array(type.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.count
        let lowered = bytes[start...].map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        return String(decoding: lowered, as: UTF8.self)
    }

    /// A request header by its HTTP name, e.g. `header("Content-Type")`.
    ///
    /// CGI maps every non-alphanumeric character of a header name to `_`, so `X-Foo` and `X_Foo`
    /// are indistinguishable here; that is why a header a decision depends on must not come
    /// twice (`mergingRepeatedParams`).
    public func header(_ name: String) -> String? {
        // The param's name is built on the stack and looked up as bytes: a String per lookup
        // showed in profiles of light requests, which read a few headers each.
        Self.withParamName(ofHeader: name) { full -> String? in
            // Content-Type and Content-Length travel as CONTENT_TYPE and CONTENT_LENGTH, and an
            // empty one counts as absent.
            // Lengths first: most names are neither, and comparing with a literal's view walks it.
            let type = "HTTP_CONTENT_TYPE".utf8
            let length = "HTTP_CONTENT_LENGTH".utf8
            if (full.count == type.count && full.elementsEqual(type)) || (full.count == length.count && full.elementsEqual(length)) {
                return self.params.index(ofName: UnsafeRawBufferPointer(rebasing: full[5...])).map(self.params.value(at:)).flatMap {
                    $0.isEmpty ? nil : $0
                }
            }
            return self.params.index(ofName: full).map(self.params.value(at:))
        }
    }

    /// The CGI param that carries header `name`: `X-Forwarded-User` → `HTTP_X_FORWARDED_USER`.
    /// (Content-Type and Content-Length travel as `CONTENT_TYPE` and `CONTENT_LENGTH`.)
    public static func paramName(ofHeader name: String) -> String {
        self.withParamName(ofHeader: name) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the bytes of `paramName(ofHeader:)`, built in a buffer on the stack.
    /// ASCII only (header names are tokens): letters upper-cased, digits kept, `_` for the rest.
    private static func withParamName<T>(ofHeader name: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: name.utf8.count + 5) { key in
            var i = 0
            for byte in "HTTP_".utf8 {
                key[i] = byte
                i += 1
            }
            for byte in name.utf8 {
                key[i] =
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - 32
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): byte
                    default: UInt8(ascii: "_")
                    }
                i += 1
            }
            return body(UnsafeRawBufferPointer(key))
        }
    }
}
