import Foundation

/// An error that maps to an HTTP status and a message that is safe to show to the client.
///
/// This is the single place where failure becomes a status code: handlers throw `HTTPError`
/// (or return a response), and the router's error rendering turns it into HTML or JSON.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// The status the client receives.
    public var status: HTTPStatus
    /// A short message safe to show to the client; never contains secrets.
    public var message: String
    /// Field-level problems (for 400 responses about parameters), keyed by field name.
    public var fieldErrors: [String: String]
    /// Extra response headers, e.g. `WWW-Authenticate` or `Retry-After`.
    public var headers: [(name: String, value: String)]

    /// Creates an error.
    public init(
        _ status: HTTPStatus, _ message: String, fieldErrors: [String: String] = [:],
        headers: [(name: String, value: String)] = []
    ) {
        self.status = status
        self.message = message
        self.fieldErrors = fieldErrors
        self.headers = headers
    }

    public var description: String { "HTTPError(\(self.status), \(self.message))" }
}

extension HTTPError {
    private struct Envelope: Encodable {
        struct Body: Encodable {
            var status: Int
            var message: String
            var fields: [String: String]?
        }
        var error: Body
    }

    /// The error as the JSON API's one error shape:
    /// `{"error": {"status": 400, "message": "...", "fields": {"name": "problem"}}}`.
    public func jsonResponse() -> HTTPResponse {
        let envelope = Envelope(
            error: .init(
                status: self.status.code, message: self.message,
                fields: self.fieldErrors.isEmpty ? nil : self.fieldErrors))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var response = HTTPResponse.json(Array((try? encoder.encode(envelope)) ?? Data()) + [0x0a], status: self.status)
        for (name, value) in self.headers { response.setHeader(name, value) }
        return response
    }
}
