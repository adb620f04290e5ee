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
    /// All transport parameters (CGI variables: `HTTP_*`, `REMOTE_USER`, `REMOTE_ADDR`, ...).
    /// Guaranteed free of duplicate names: the transport rejects such requests before they get here.
    public var params: [String: String]
    /// The request body, already capped by the transport.
    public var body: [UInt8]

    /// Creates a request.
    public init(
        method: String, requestURI: String, scriptName: String = "",
        params: [String: String] = [:], body: [UInt8] = []
    ) {
        self.method = method
        self.requestURI = requestURI
        self.scriptName = scriptName
        self.params = params
        self.body = body
    }

    /// The percent-encoded path part of `requestURI` (everything before `?`).
    public var rawPath: String {
        if let q = self.requestURI.firstIndex(of: "?") { return String(self.requestURI[..<q]) }
        return self.requestURI
    }

    /// The decoded query parameters; the first value wins for repeated names.
    public var query: [String: String] {
        guard let q = self.requestURI.firstIndex(of: "?") else { return [:] }
        return FormDecoder.decode(String(self.requestURI[self.requestURI.index(after: q)...]))
    }

    /// The media type of the body, lower-case and without parameters (`application/json` for
    /// `Application/JSON; charset=utf-8`), or nil without a Content-Type.
    public var mediaType: String? {
        guard let type = self.header("Content-Type") else { return nil }
        return type.split(separator: ";", omittingEmptySubsequences: false).first.map {
            String($0).trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    /// A request header by its HTTP name, e.g. `header("Content-Type")`.
    ///
    /// CGI maps every non-alphanumeric character of a header name to `_`, so `X-Foo` and `X_Foo`
    /// are indistinguishable here; that is why the transport rejects duplicated params.
    public func header(_ name: String) -> String? {
        // ASCII only (header names are tokens): upper-case letters, keep digits, `_` for the rest.
        var key = [UInt8]()
        key.reserveCapacity(name.utf8.count + 5)
        key.append(contentsOf: "HTTP_".utf8)
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): key.append(byte - 32)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): key.append(byte)
            default: key.append(UInt8(ascii: "_"))
            }
        }
        let full = String(decoding: key, as: UTF8.self)
        switch full {
        case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH":
            return self.params[String(full.dropFirst(5))].flatMap { $0.isEmpty ? nil : $0 }
        default: return self.params[full]
        }
    }
}
