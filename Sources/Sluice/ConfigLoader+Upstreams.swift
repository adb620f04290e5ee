import ByteStrings
import JSON
import Policy
import Workflow

extension ConfigLoader {
    /// Reads `upstreams: { luigi: { mount_path, rate_limit: {per_minute, burst}, rules: [
    /// { methods, paths, verb } ] } }`, in name order.
    static func readUpstreams(_ value: JSONValue?, problems: ProblemList) -> [UpstreamSettings] {
        guard let value else { return [] }
        var all = ConfigReader(value, path: "upstreams", problems: problems)
        var upstreams: [UpstreamSettings] = []
        for name in all.keys {
            let path = "upstreams.\(name)"
            if !ObjectName.isValid(name) {
                problems.add(path, "invalid upstream name (use letters, digits, . _ -; start with a letter or digit)")
            }
            var r = ConfigReader(all.value(name), path: path, problems: problems)
            let mountPath = r.string("mount_path")
            if let m = mountPath, !m.isEmpty, !Self.isMountPath(m) {
                problems.add(
                    "\(path).mount_path",
                    "must be empty, or a path that starts with / and does not end with / (no %, ?, #, *, backslash, control characters, dot or empty segments)"
                )
            }
            let limit =
                r.value("rate_limit").flatMap {
                    Self.readLimit(
                        $0, path: "\(path).rate_limit", perMinute: "requests let through per minute and caller", problems: problems)
                } ?? UpstreamSettings.defaultLimit
            var rules: [GuardedUpstream.Rule] = []
            let listed = r.array("rules") ?? []
            if listed.isEmpty { problems.add("\(path).rules", "required: at least one rule (a request no rule matches is denied)") }
            for (i, item) in listed.enumerated() {
                if let rule = self.readUpstreamRule(item, path: "\(path).rules[\(i)]", problems: problems) { rules.append(rule) }
            }
            r.finish()
            upstreams.append(
                UpstreamSettings(
                    upstream: GuardedUpstream(name: name, mountPath: mountPath.flatMap { $0.isEmpty ? nil : $0 }, rules: rules),
                    limit: limit))
        }
        return upstreams
    }

    /// Whether `text` is a usable mount path: a literal `PathPattern` without a trailing slash.
    static func isMountPath(_ text: String) -> Bool {
        guard !text.hasSuffix("/"), !text.contains("*"), (try? PathPattern(text)) != nil else { return false }
        return true
    }

    private static func readUpstreamRule(_ value: JSONValue, path: String, problems: ProblemList) -> GuardedUpstream.Rule? {
        var r = ConfigReader(value, path: path, problems: problems)
        defer { r.finish() }
        let methods = r.strings("methods") ?? []
        for (i, method) in methods.enumerated()
        where method.isEmpty || !method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            problems.add("\(path).methods[\(i)]", "an HTTP method in capitals (GET, POST, ...)")
        }
        var patterns: [PathPattern] = []
        let paths = r.strings("paths") ?? []
        if paths.isEmpty { problems.add("\(path).paths", "required: at least one path pattern") }
        for (i, text) in paths.enumerated() {
            if !UnicodeNames.isNFC(text) { problems.add("\(path).paths[\(i)]", Self.notNFC) }
            do { patterns.append(try PathPattern(text)) } catch {
                problems.add("\(path).paths[\(i)]", "invalid path pattern: \(error.reason)")
            }
        }
        guard let text = r.string("verb") else {
            problems.add("\(path).verb", "required: the verb a matching request needs (view or operate)")
            return nil
        }
        guard let verb = Verb(rawValue: text), verb.appliesToUpstreams else {
            problems.add(
                "\(path).verb",
                "\"\(text)\" is not a verb about upstreams (known: \(Verb.upstreamVerbs.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        return GuardedUpstream.Rule(methods: methods, paths: patterns, verb: verb)
    }
}
