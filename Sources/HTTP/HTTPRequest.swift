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
        var key = ""
        for scalar in name.unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                key.unicodeScalars.append(contentsOf: String(scalar).uppercased().unicodeScalars)
            } else {
                key.append("_")
            }
        }
        switch key {
        case "CONTENT_TYPE", "CONTENT_LENGTH": return self.params[key].flatMap { $0.isEmpty ? nil : $0 }
        default: return self.params["HTTP_" + key]
        }
    }
}
