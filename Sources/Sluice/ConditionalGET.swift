import Crypto
import Foundation
import HTTP

/// `ETag` and `If-None-Match` for every successful GET: the tag is a digest of the body, so it
/// changes exactly when the representation does, and a poller that sends it back gets an empty
/// 304 while nothing changed.
enum ConditionalGET {
    /// The strong entity tag of `body`.
    static func tag(of body: [UInt8]) -> String { "\"" + String(Hex.encode(SHA256.hash(body)).prefix(32)) + "\"" }

    /// Whether an `If-None-Match` header value names `tag` (or is `*`).
    static func matches(_ header: String?, _ tag: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { item in
            let candidate = item.trimmingCharacters(in: .whitespaces)
            // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
            return candidate == "*" || candidate == tag || candidate == "W/" + tag
        }
    }

    static func apply(to response: inout HTTPResponse, request: HTTPRequest) {
        guard response.status == .ok else { return }
        let tag = response.header("ETag") ?? self.tag(of: response.body)
        response.setHeader("ETag", tag)
        if self.matches(request.header("If-None-Match"), tag) {
            response.status = .notModified
            response.body = []
        }
    }
}
