/// Matches a method and a decoded path against registered patterns such as `/api/v1/jobs/:id`.
///
/// The router is generic over what it routes to, so it stays free of application types:
/// ```swift
/// var router = Router<Handler>()
/// router.add("GET", "/jobs/:id", showJob)
/// switch router.match(method: "GET", path: "/jobs/7") { case .found(let h, let params): ... }
/// ```
public struct Router<Target: Sendable>: Sendable {
    private struct Route: Sendable {
        var method: String
        var pattern: String
        var segments: [Segment]
        var target: Target
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    /// The result of matching a request.
    public enum Match {
        /// A route matched; `parameters` holds the decoded values of its `:name` segments.
        case found(Target, parameters: [String: String])
        /// The path exists, but not for this method; `allowed` lists the methods that would match.
        case methodNotAllowed(allowed: [String])
        /// Nothing matches the path.
        case notFound
    }

    private var routes: [Route] = []
    /// Indices into `routes` by segment count, in registration order: a path is compared only with
    /// patterns of its length (a profile of triggers showed routing at 5 % of the CPU when every
    /// route was tried, each copied out of the array).
    private var byLength: [[Int]] = []

    /// Creates an empty router.
    public init() {}

    /// Registers `target` for `method` and `pattern` (segments starting with `:` capture a value).
    public mutating func add(_ method: String, _ pattern: String, _ target: Target) {
        let segments = Self.split(pattern).map { $0.hasPrefix(":") ? Segment.parameter(String($0.dropFirst())) : .literal($0) }
        self.routes.append(Route(method: method, pattern: pattern, segments: segments, target: target))
        while self.byLength.count <= segments.count { self.byLength.append([]) }
        self.byLength[segments.count].append(self.routes.count - 1)
    }

    /// Every registered route, in registration order (for documentation and its tests).
    public var registered: [(method: String, pattern: String, target: Target)] {
        self.routes.map { ($0.method, $0.pattern, $0.target) }
    }

    /// Matches a raw (percent-encoded) path. Each segment is decoded separately, so an encoded
    /// `/` (`%2F`) stays inside its segment instead of creating a new one.
    public func match(method: String, rawPath: String) -> Match {
        var path = rawPath
        guard let decoded = path.withUTF8(Self.decodedSegments), decoded.count < self.byLength.count else { return .notFound }
        var allowed: [String] = []
        for index in self.byLength[decoded.count] {
            guard let parameters = Self.bind(self.routes[index].segments, decoded) else { continue }
            let routeMethod = self.routes[index].method
            if Self.same(routeMethod, method) || (Self.same(method, "HEAD") && Self.same(routeMethod, "GET")) {
                return .found(self.routes[index].target, parameters: parameters)
            }
            allowed.append(routeMethod)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// Byte equality: a route is chosen by the bytes of the path and method, never by Unicode
    /// canonical equivalence (which `String ==` applies).
    private static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    private static func bind(_ pattern: [Segment], _ path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        // Literals first, without building anything: most routes fail here.
        for i in pattern.indices {
            switch pattern[i] {
            case .literal(let literal): if !Self.same(literal, path[i]) { return nil }
            case .parameter: if path[i].isEmpty { return nil }
            }
        }
        var parameters: [String: String] = [:]
        for i in pattern.indices {
            if case .parameter(let name) = pattern[i] { parameters[name] = path[i] }
        }
        return parameters
    }

    /// The decoded segments of a raw path, split as `split` splits it; nil if a segment is a
    /// malformed escape, not UTF-8 once decoded, or `.` or `..`.
    ///
    /// One pass over the bytes: a segment without `%` becomes its String directly (a profile of
    /// light requests found routing at 9 % of their CPU when every segment was first copied
    /// into a String and then decoded into another).
    private static func decodedSegments(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
        let slash = UInt8(ascii: "/")
        guard !bytes.isEmpty, !(bytes.count == 1 && bytes[0] == slash) else { return [] }
        var segments: [String] = []
        var start = bytes[0] == slash ? 1 : 0
        while true {
            var end = start
            while end < bytes.count && bytes[end] != slash { end += 1 }
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
            // Split at an ASCII byte of valid UTF-8, so a segment without escapes is valid UTF-8.
            let segment = raw.contains(UInt8(ascii: "%")) ? FormDecoder.percentDecode(raw) : String(decoding: raw, as: UTF8.self)
            // `.` and `..` (also percent-encoded) never name anything here. The front server
            // authorizes the normalized path while we route the raw one, so such paths must not
            // resolve to a route.
            guard let segment, !Self.same(segment, "."), !Self.same(segment, "..") else { return nil }
            segments.append(segment)
            guard end < bytes.count else { return segments }
            start = end + 1
        }
    }

    /// Splits `/a/b/` into `["a", "b", ""]`; the root `/` is `[]`, so a trailing slash is significant.
    private static func split(_ path: String) -> [String] {
        guard path != "/" && !path.isEmpty else { return [] }
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.first == "" { parts.removeFirst() }
        return parts
    }
}
