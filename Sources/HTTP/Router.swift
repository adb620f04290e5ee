import ByteStrings

/// Matches a method and a decoded path against registered patterns such as `/api/v1/jobs/:id`.
///
/// The router is generic over what it routes to, so it stays free of application types:
/// ```swift
/// var router = Router<Handler>()
/// router.add("GET", "/jobs/:id", showJob)
/// switch router.match(method: "GET", path: "/jobs/7") { case .found(let h, let params): ... }
/// ```
public struct Router<Target: Sendable>: Sendable {
    /// The routes, as parallel arrays: everything matching reads is free of `Target`, so that
    /// code is not generic. Why: `Router` is generic and lives in another module than its
    /// users, so its generic code runs unspecialized; a profile of light requests found 4 % of
    /// their CPU in generic metadata and witness calls from routing a segment array whose
    /// element type was nested in the generic type.
    @usableFromInline private(set) var methods: [String] = []
    private var patterns: [String] = []
    @usableFromInline private(set) var segments: [[RouteSegment]] = []
    @usableFromInline private(set) var targets: [Target] = []

    /// The result of matching a request.
    public enum Match {
        /// A route matched; `parameters` holds the decoded values of its `:name` segments.
        case found(Target, parameters: [String: String])
        /// The path exists, but not for this method; `allowed` lists the methods that would match.
        case methodNotAllowed(allowed: [String])
        /// Nothing matches the path.
        case notFound
    }

    /// Indices into the route arrays by segment count, in registration order: a path is
    /// compared only with patterns of its length (a profile of triggers showed routing at 5 % of
    /// the CPU when every route was tried, each copied out of the array).
    @usableFromInline private(set) var byLength: [[Int]] = []

    /// Creates an empty router.
    public init() {}

    /// Registers `target` for `method` and `pattern` (segments starting with `:` capture a value).
    public mutating func add(_ method: String, _ pattern: String, _ target: Target) {
        let segments = Self.split(pattern).map { $0.hasPrefix(":") ? RouteSegment.parameter(String($0.dropFirst())) : .literal($0) }
        self.methods.append(method)
        self.patterns.append(pattern)
        self.segments.append(segments)
        self.targets.append(target)
        while self.byLength.count <= segments.count { self.byLength.append([]) }
        self.byLength[segments.count].append(self.targets.count - 1)
    }

    /// Every registered route, in registration order (for documentation and its tests).
    public var registered: [(method: String, pattern: String, target: Target)] {
        (0..<self.targets.count).map { (self.methods[$0], self.patterns[$0], self.targets[$0]) }
    }

    /// Matches a raw (percent-encoded) path. Each segment is decoded separately, so an encoded
    /// `/` (`%2F`) stays inside its segment instead of creating a new one.
    ///
    /// Inlinable, so that the caller's module specializes it for its `Target`: called through
    /// the generic entry point, building the match paid for type metadata on every request.
    @inlinable
    public func match(method: String, rawPath: String) -> Match {
        var path = rawPath
        guard let decoded = path.withUTF8(RouteSegment.decodedSegments), decoded.count < self.byLength.count else { return .notFound }
        switch RouteSegment.firstMatch(
            among: self.byLength[decoded.count], segments: self.segments, methods: self.methods, method: method, path: decoded)
        {
        case .found(let index, let parameters): return .found(self.targets[index], parameters: parameters)
        case .methodNotAllowed(let allowed): return .methodNotAllowed(allowed: allowed)
        case .notFound: return .notFound
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

/// One segment of a route's pattern, and the matching itself, outside the generic `Router`
/// (see `Router.methods`).
@usableFromInline
enum RouteSegment: Sendable, Equatable {
    case literal(String)
    case parameter(String)

    /// Which route matched, by index.
    @usableFromInline
    enum Found {
        case found(Int, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// The first of `candidates` (indices into `segments` and `methods`) whose pattern matches
    /// `path` and whose method is `method` (GET also answers HEAD); else the methods of those
    /// whose pattern matches.
    @usableFromInline
    static func firstMatch(
        among candidates: [Int], segments: [[RouteSegment]], methods: [String], method: String, path: [String]
    ) -> Found {
        var allowed: [String] = []
        for index in candidates {
            guard let parameters = self.bind(segments[index], path) else { continue }
            let routeMethod = methods[index]
            if self.same(routeMethod, method) || (self.same(method, "HEAD") && self.same(routeMethod, "GET")) {
                return .found(index, parameters: parameters)
            }
            allowed.append(routeMethod)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// Byte equality: a route is chosen by the bytes of the path and method, never by Unicode
    /// canonical equivalence (which `String ==` applies).
    static func same(_ a: String, _ b: String) -> Bool { a.bytesEqual(b) }

    /// The values of `pattern`'s parameters in `path`, or nil if the path does not match.
    static func bind(_ pattern: [RouteSegment], _ path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        // Literals first, without building anything: most routes fail here.
        var parameterCount = 0
        for i in 0..<pattern.count {
            switch pattern[i] {
            case .literal(let literal): if !self.same(literal, path[i]) { return nil }
            case .parameter: if path[i].isEmpty { return nil } else { parameterCount += 1 }
            }
        }
        var parameters: [String: String] = Dictionary(minimumCapacity: parameterCount)
        for i in 0..<pattern.count {
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
    @usableFromInline
    static func decodedSegments(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
        let slash = UInt8(ascii: "/")
        guard !bytes.isEmpty, !(bytes.count == 1 && bytes[0] == slash) else { return [] }
        var segments: [String] = []
        // One allocation: appended one by one, the array grew (and was copied) twice for a
        // path of four segments.
        segments.reserveCapacity(bytes.reduce(1) { $1 == slash ? $0 + 1 : $0 })
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

}
