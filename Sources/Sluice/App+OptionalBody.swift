import Foundation
import HTTP
import JSON

extension App {
    /// The one member `name` of an optional JSON body (`{"exit_when_drained": true}`,
    /// `{"comment": "…"}`): nil for an empty body or an object without it. A body over
    /// `maxBytes` is a 413, one that is not `application/json` a 415, and anything but a JSON
    /// object whose only member is `name` (names compared as bytes) a 400 naming the problem;
    /// `example` shows the expected shape in that message.
    static func optionalMember(_ name: String, of request: HTTPRequest, maxBytes: Int, example: String) throws -> JSONValue? {
        guard !request.body.isEmpty else { return nil }
        guard request.body.count <= maxBytes else { throw HTTPError(.payloadTooLarge, "the request body is at most \(maxBytes) bytes") }
        guard request.mediaType == "application/json" else {
            throw HTTPError(.unsupportedMediaType, "send the body as Content-Type: application/json")
        }
        let root: JSONValue
        do { root = try JSONValue.parse(request.body) } catch {
            throw HTTPError(.badRequest, "the body is not valid JSON (\(error))")
        }
        guard case .object(let members) = root else { throw HTTPError(.badRequest, "the body must be a JSON object such as \(example)") }
        if let unknown = members.keys.sorted().first(where: { !$0.bytesEqual(name) }) {
            throw HTTPError(.badRequest, "unknown member \"\(unknown)\" (only \"\(name)\" is allowed)")
        }
        return members.entry(exactly: name)?.value
    }
}
