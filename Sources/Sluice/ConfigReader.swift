import ByteStrings
import JSON

/// Reads one JSON object of the configuration, recording every problem with its key path and
/// the keys it did not expect.
struct ConfigReader {
    let path: String
    private let members: [String: JSONValue]
    private var seen: Set<String> = []
    private let problems: ProblemList

    /// A reader for `value` at `path`; records a problem if it is not an object.
    init(_ value: JSONValue?, path: String, problems: ProblemList) {
        self.path = path
        self.problems = problems
        switch value {
        case .object(let m): self.members = m
        case nil: self.members = [:]
        case .some(let other):
            self.members = [:]
            problems.add(path, "must be an object, found \(other.typeName)")
        }
    }

    /// The member keys, sorted.
    var keys: [String] { self.members.keys.sorted() }

    func child(_ key: String) -> String { self.path.isEmpty ? key : "\(self.path).\(key)" }

    mutating func value(_ key: String) -> JSONValue? {
        self.seen.insert(key)
        return self.members[key]
    }

    mutating func string(_ key: String) -> String? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?:
            self.problems.add(self.child(key), "must be a string, found \(other.typeName)")
            return nil
        }
    }

    mutating func bool(_ key: String) -> Bool? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?:
            self.problems.add(self.child(key), "must be true or false, found \(other.typeName)")
            return nil
        }
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) -> Int? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .number(let n)?:
            guard n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
                self.problems.add(self.child(key), "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return Int(n)
        case let other?:
            self.problems.add(self.child(key), "must be a number, found \(other.typeName)")
            return nil
        }
    }

    mutating func number(_ key: String) -> Double? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .number(let n)? where n.isFinite: return n
        case let other?:
            self.problems.add(self.child(key), "must be a finite number, found \(other.typeName)")
            return nil
        }
    }

    mutating func strings(_ key: String) -> [String]? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .array(let items)?:
            var out: [String] = []
            for (i, item) in items.enumerated() {
                if case .string(let s) = item {
                    out.append(s)
                } else {
                    self.problems.add("\(self.child(key))[\(i)]", "must be a string, found \(item.typeName)")
                }
            }
            return out
        case let other?:
            self.problems.add(self.child(key), "must be an array of strings, found \(other.typeName)")
            return nil
        }
    }

    mutating func array(_ key: String) -> [JSONValue]? {
        switch self.value(key) {
        case nil, .null?: return nil
        case .array(let items)?: return items
        case let other?:
            self.problems.add(self.child(key), "must be an array, found \(other.typeName)")
            return nil
        }
    }

    /// Records every member that no accessor asked for as an unknown key.
    func finish() {
        for key in self.members.keys.sorted() where !self.seen.contains(key) {
            let hint = NearestName.suggestion(for: key, among: Array(self.seen)).map { "; did you mean `\($0)`?" } ?? ""
            self.problems.add(self.child(key), "unknown key\(hint)")
        }
    }
}

/// Problems collected while reading a configuration.
final class ProblemList {
    private(set) var items: [ConfigProblem] = []

    func add(_ path: String, _ message: String) { self.items.append(ConfigProblem(path: path, message: message)) }
}

/// A problem in the configuration file, located by key path and line.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    /// The key path, e.g. `roles.ops.grants[0].verbs[1]`.
    public var path: String
    /// What is wrong.
    public var message: String
    /// The line of the key (or of its nearest enclosing key), if known.
    public var line: Int?

    /// Creates a problem.
    public init(path: String, message: String, line: Int? = nil) {
        self.path = path
        self.message = message
        self.line = line
    }

    /// `problems` in line order, those without a line last; otherwise as given.
    public static func byLine(_ problems: [ConfigProblem]) -> [ConfigProblem] {
        problems.enumerated().sorted { a, b in
            let (la, lb) = (a.element.line ?? Int.max, b.element.line ?? Int.max)
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }

    /// The problem with `line` set from the parser's key-path → line table: the path itself, or
    /// the nearest enclosing path that has a line (a missing key is reported at its parent).
    func located(in lines: [String: Int]) -> ConfigProblem {
        var copy = self
        var path = self.path
        while copy.line == nil && !path.isEmpty {
            if let line = lines[path] {
                copy.line = line
                break
            }
            if let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) { path = String(path[..<cut]) } else { path = "" }
        }
        return copy
    }

    public var description: String {
        let location = self.line.map { "line \($0): " } ?? ""
        return self.path.isEmpty ? "\(location)\(self.message)" : "\(location)\(self.path): \(self.message)"
    }
}
