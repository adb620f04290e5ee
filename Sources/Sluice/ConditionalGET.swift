import Crypto
import Foundation
import HTTP

/// `ETag` and `If-None-Match` for every successful GET: the tag is a digest of the body, so it
/// changes exactly when the representation does, and a poller that sends it back gets an empty
/// 304 while nothing changed.
enum ConditionalGET {
    /// The strong entity tag of `body`: the first 16 bytes of its SHA-256 in hex, quoted.
    static func tag(of body: [UInt8]) -> String { "\"\(Hex.encode(SHA256.hash(body)[..<16]))\"" }

    /// Whether an `If-None-Match` header value names `tag` (or is `*`).
    ///
    /// As bytes: entity tags are opaque (RFC 9110 8.8.3), so `String ==` and its canonical
    /// equivalence have no place here; and Foundation's trimming showed in profiles.
    static func matches(_ header: String?, _ tag: String) -> Bool {
        guard let header else { return false }
        let tag = Array(tag.utf8)
        return header.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).contains { item in
            var candidate = item
            while let first = candidate.first, first == 0x20 || first == 0x09 { candidate = candidate.dropFirst() }
            while let last = candidate.last, last == 0x20 || last == 0x09 { candidate = candidate.dropLast() }
            // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
            return candidate.elementsEqual("*".utf8) || candidate.elementsEqual(tag)
                || (candidate.starts(with: "W/".utf8) && candidate.dropFirst(2).elementsEqual(tag))
        }
    }

    static func apply(to response: inout HTTPResponse, request: HTTPRequest) {
        guard response.status == .ok else { return }
        // A handler that knows its tag (a kept job's JSON) has set it; else it is made here.
        let tag: String
        if let kept = response.header("ETag") {
            tag = kept
        } else {
            tag = self.tag(of: response.body)
            response.headers.append(("ETag", tag))
        }
        if self.matches(request.header("If-None-Match"), tag) {
            response.status = .notModified
            response.body = []
        }
    }
}
