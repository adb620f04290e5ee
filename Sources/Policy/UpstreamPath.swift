/// The path of a request to a guarded upstream, as the upstream will see it: percent-decoded,
/// split into segments, below the upstream's mount path.
///
/// Rules are matched against decoded segments, because that is what the upstream routes on
/// (Tornado, Luigi's server, decodes `%5F` to `_` before it picks a handler). Anything whose
/// meaning could differ between Sluice and the upstream is refused rather than guessed: an
/// encoded `/` (`%2F`), a backslash, a control character, a dot segment, an empty segment
/// (`//`), bytes that are not UTF-8, a malformed `%` escape.
public struct UpstreamPath: Sendable, Hashable, CustomStringConvertible {
    /// The decoded segments: `/api/task_list` is `["api", "task_list"]`, `/` is `[""]`, and a
    /// trailing slash leaves a last empty segment (`/static/` is `["static", ""]`).
    public let segments: [String]

    /// Creates a path from decoded segments (tests).
    public init(segments: [String]) { self.segments = segments }

    /// The path written out again (decoded, for messages and audit records).
    public var description: String { "/" + self.segments.joined(separator: "/") }

    /// Why a request target was refused.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, safe to show the caller.
        public let reason: String
        public var description: String { self.reason }
    }

    /// The outcome of parsing a request target.
    public enum Parsed: Sendable, Hashable {
        /// The path below the mount path.
        case path(UpstreamPath)
        /// The target is not below `mountPath`.
        case outside
        /// The target cannot be judged safely.
        case refused(Refusal)
    }

    /// Parses `target` (`/luigi/api/task_list?data=...`, the query is ignored) below
    /// `mountPath` (`/luigi`, or nil for an upstream served at the root).
    public static func parse(_ target: String, mountPath: String?) -> Parsed {
        var bytes = Array(target.utf8)
        if let q = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { bytes.removeSubrange(q...) }
        guard bytes.first == UInt8(ascii: "/") else { return .refused(Refusal(reason: "the request target is not a path")) }
        if let mountPath, !mountPath.isEmpty {
            let mount = Array(mountPath.utf8)
            // Bytes, then a segment boundary: `/luigiX` is not below `/luigi`.
            guard bytes.starts(with: mount), bytes.count == mount.count || bytes[mount.count] == UInt8(ascii: "/") else {
                return .outside
            }
            bytes.removeFirst(mount.count)
            if bytes.isEmpty { bytes = [UInt8(ascii: "/")] }
        }
        var segments: [String] = []
        let raw = bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, piece) in raw.enumerated() {
            let isLast = index == raw.count - 1
            if piece.isEmpty && !isLast { return .refused(Refusal(reason: "the path has an empty segment (//)")) }
            switch self.decode(piece) {
            case .failure(let refusal): return .refused(refusal)
            case .success(let segment):
                if segment == "." || segment == ".." { return .refused(Refusal(reason: "the path has a dot segment")) }
                segments.append(segment)
            }
        }
        return .path(UpstreamPath(segments: segments))
    }

    /// One segment, percent-decoded and checked.
    private static func decode(_ piece: ArraySlice<UInt8>) -> Result<String, Refusal> {
        var out: [UInt8] = []
        out.reserveCapacity(piece.count)
        var i = piece.startIndex
        while i < piece.endIndex {
            var byte = piece[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < piece.endIndex, let high = Self.hexValue(piece[i + 1]), let low = Self.hexValue(piece[i + 2])
                else { return .failure(Refusal(reason: "the path has a malformed % escape")) }
                byte = high << 4 | low
                if byte == UInt8(ascii: "/") { return .failure(Refusal(reason: "the path has an encoded slash (%2F)")) }
                i += 3
            } else {
                i += 1
            }
            if byte < 0x20 || byte == 0x7F { return .failure(Refusal(reason: "the path has a control character")) }
            if byte == UInt8(ascii: "\\") { return .failure(Refusal(reason: "the path has a backslash")) }
            out.append(byte)
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            return .failure(Refusal(reason: "the path is not UTF-8 once decoded"))
        }
        return .success(text)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
