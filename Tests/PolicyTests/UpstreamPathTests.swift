import Policy
import Testing

/// `UpstreamPath.parse`: a request target to a guarded upstream, decoded into segments below the
/// upstream's mount path, or refused when Sluice and the upstream could read it differently.
@Suite struct UpstreamPathTests {
    /// The segments of `target` below `mountPath`; records an issue unless it parsed as a path.
    static func segments(_ target: String, mountPath: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> [String]? {
        guard case .path(let path) = UpstreamPath.parse(target, mountPath: mountPath) else {
            Issue.record(
                "\(target) below \(mountPath ?? "(root)") did not parse as a path: \(UpstreamPath.parse(target, mountPath: mountPath))",
                sourceLocation: sourceLocation)
            return nil
        }
        return path.segments
    }

    /// The reason `target` was refused; records an issue unless it was.
    static func refusal(_ target: String, mountPath: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard case .refused(let refusal) = UpstreamPath.parse(target, mountPath: mountPath) else {
            Issue.record(
                "\(target) was not refused: \(UpstreamPath.parse(target, mountPath: mountPath))", sourceLocation: sourceLocation)
            return nil
        }
        return refusal.reason
    }

    @Test("A path splits into segments; the query and a fragment are ignored")
    func segmentsAndQuery() {
        #expect(Self.segments("/api/task_list") == ["api", "task_list"])
        #expect(Self.segments("/api/task_list?data=%7B%7D") == ["api", "task_list"])
        #expect(Self.segments("/api/task_list?data=a/../b%2F//") == ["api", "task_list"], "nothing after ? is judged")
        #expect(Self.segments("/api/task_list#x/../y") == ["api", "task_list"])
        #expect(Self.segments("/static/visualiser/index.html") == ["static", "visualiser", "index.html"])
        #expect(Self.segments("/") == [""])
        #expect(Self.segments("/?x=1") == [""])
        #expect(UpstreamPath.parse("/api/task_list", mountPath: nil) == .path(UpstreamPath(segments: ["api", "task_list"])))
    }

    @Test("A trailing slash is kept as an empty last segment")
    func trailingSlash() {
        #expect(Self.segments("/static/") == ["static", ""])
        #expect(Self.segments("/static") == ["static"])
        #expect(Self.segments("/a/b/") == ["a", "b", ""])
    }

    @Test("Segments are percent-decoded: %5F is _, in either case; multi-byte UTF-8 decodes to its character")
    func decoded() {
        #expect(Self.segments("/api/task%5Flist") == ["api", "task_list"])
        #expect(Self.segments("/api/task%5flist") == ["api", "task_list"])
        #expect(Self.segments("/%61pi/%74ask_list") == ["api", "task_list"])
        #expect(Self.segments("/caf%C3%A9") == ["café"])
        #expect(Self.segments("/café") == ["café"])
        #expect(Self.segments("/a%20b") == ["a b"])
        #expect(Self.segments("/a.b/...") == ["a.b", "..."], "only . and .. are dot segments")
        #expect(Self.segments("/a%2Eb") == ["a.b"])
    }

    @Test("The mount path is removed, on a segment boundary: /luigiX is outside /luigi")
    func mountPath() {
        #expect(Self.segments("/luigi/api/task_list?data=x", mountPath: "/luigi") == ["api", "task_list"])
        #expect(Self.segments("/luigi/static/", mountPath: "/luigi") == ["static", ""])
        #expect(UpstreamPath.parse("/luigiX/api/task_list", mountPath: "/luigi") == .outside)
        #expect(UpstreamPath.parse("/luigiX", mountPath: "/luigi") == .outside)
        #expect(UpstreamPath.parse("/luig", mountPath: "/luigi") == .outside)
        #expect(UpstreamPath.parse("/api/task_list", mountPath: "/luigi") == .outside)
        #expect(UpstreamPath.parse("/other/luigi/api", mountPath: "/luigi") == .outside)
        // The mount path is compared as sent (bytes), not decoded.
        #expect(UpstreamPath.parse("/lu%69gi/api", mountPath: "/luigi") == .outside)
        #expect(UpstreamPath.parse("/Luigi/api", mountPath: "/luigi") == .outside)
        // A deeper mount path.
        #expect(Self.segments("/tools/luigi/api/x", mountPath: "/tools/luigi") == ["api", "x"])
        #expect(UpstreamPath.parse("/tools/luigix/api", mountPath: "/tools/luigi") == .outside)
    }

    @Test("The mount path alone, with or without a slash or a query, is the upstream's /")
    func mountPathAlone() {
        #expect(Self.segments("/luigi", mountPath: "/luigi") == [""])
        #expect(Self.segments("/luigi?x=1", mountPath: "/luigi") == [""])
        #expect(Self.segments("/luigi/", mountPath: "/luigi") == [""])
        #expect(UpstreamPath.parse("/luigi", mountPath: "/luigi") == .path(UpstreamPath(segments: [""])))
    }

    @Test("An empty mount path is the same as none")
    func emptyMountPath() {
        #expect(Self.segments("/api/task_list", mountPath: "") == ["api", "task_list"])
        #expect(Self.segments("/", mountPath: "") == [""])
    }

    @Test("The description writes the decoded path back")
    func description() {
        #expect(UpstreamPath(segments: ["api", "task_list"]).description == "/api/task_list")
        #expect(UpstreamPath(segments: [""]).description == "/")
        #expect(UpstreamPath(segments: ["static", ""]).description == "/static/")
        guard case .path(let path) = UpstreamPath.parse("/luigi/api/task%5Flist?q", mountPath: "/luigi") else {
            Issue.record("not a path")
            return
        }
        #expect(path.description == "/api/task_list")
    }

    @Test(
        "Targets whose meaning could differ between Sluice and the upstream are refused, saying why",
        arguments: [
            // An encoded slash, in either case.
            ("/a%2Fb", "encoded slash"), ("/a%2fb", "encoded slash"), ("/api%2Ftask_list", "encoded slash"),
            // Control characters, encoded or raw, including NUL and DEL.
            ("/a%00b", "control character"), ("/a%0A", "control character"), ("/a%1Fb", "control character"),
            ("/a%7F", "control character"), ("/a\u{1}b", "control character"), ("/a\tb", "control character"),
            ("/a\u{7F}", "control character"),
            // Malformed escapes.
            ("/a%", "malformed % escape"), ("/a%G1", "malformed % escape"), ("/a%1G", "malformed % escape"),
            ("/a%4", "malformed % escape"), ("/%", "malformed % escape"), ("/a%%41", "malformed % escape"),
            ("/a%-1", "malformed % escape"),
            // Bytes that are not UTF-8 once decoded.
            ("/a%C3", "not UTF-8"), ("/%C3", "not UTF-8"), ("/a%C3%28", "not UTF-8"), ("/%FF", "not UTF-8"),
            ("/%C0%AF", "not UTF-8"), ("/%ED%A0%80", "not UTF-8"),
            // Empty segments.
            ("/a//b", "empty segment"), ("//", "empty segment"), ("//a", "empty segment"), ("/a//", "empty segment"),
            // Dot segments, written or encoded.
            ("/a/./b", "dot segment"), ("/a/../b", "dot segment"), ("/a/%2E%2E/b", "dot segment"), ("/a/%2e%2e/b", "dot segment"),
            ("/a/%2E/b", "dot segment"), ("/a/.%2E/b", "dot segment"), ("/..", "dot segment"), ("/.", "dot segment"),
            ("/a/..", "dot segment"),
            // Backslashes, written or encoded.
            ("/a\\b", "backslash"), ("/a%5Cb", "backslash"), ("/a%5cb", "backslash"), ("/..\\x", "backslash"),
            // Not a path at all.
            ("*", "not a path"), ("", "not a path"), ("a/b", "not a path"), ("api/task_list", "not a path"),
            ("http://luigi.example/api/task_list", "not a path"), ("?x=/a", "not a path"), (" /a", "not a path"),
        ])
    func refused(target: String, reason: String) {
        let refusal = Self.refusal(target)
        #expect(refusal?.contains(reason) == true, "\(target): \(refusal ?? "(not refused)")")
    }

    @Test("Refusals apply below a mount path too; a mount path does not excuse what follows it")
    func refusedBelowMount() {
        #expect(Self.refusal("/luigi/a%2Fb", mountPath: "/luigi")?.contains("encoded slash") == true)
        #expect(Self.refusal("/luigi/../secret", mountPath: "/luigi")?.contains("dot segment") == true)
        #expect(Self.refusal("/luigi//api", mountPath: "/luigi")?.contains("empty segment") == true)
        #expect(Self.refusal("/luigi/%C3", mountPath: "/luigi")?.contains("not UTF-8") == true)
        #expect(Self.refusal("*", mountPath: "/luigi")?.contains("not a path") == true)
    }

    @Test("A refusal's description is its reason")
    func refusalDescription() {
        guard case .refused(let refusal) = UpstreamPath.parse("/a%2Fb", mountPath: nil) else {
            Issue.record("not refused")
            return
        }
        #expect(refusal.description == refusal.reason)
        #expect(refusal.reason == "the path has an encoded slash (%2F)")
    }
}

/// `PathPattern`: segment patterns for decoded upstream paths; `*` within a segment, a trailing `**`.
@Suite struct UpstreamPathPatternTests {
    /// The decoded path of `target` (at the root); records an issue if it does not parse.
    static func path(_ target: String, sourceLocation: SourceLocation = #_sourceLocation) -> UpstreamPath {
        guard case .path(let path) = UpstreamPath.parse(target, mountPath: nil) else {
            Issue.record("\(target) did not parse", sourceLocation: sourceLocation)
            return UpstreamPath(segments: ["(unparsed)"])
        }
        return path
    }

    /// Whether `pattern` (which must be valid) matches `target`.
    static func matches(_ pattern: String, _ target: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        try PathPattern(pattern).matches(self.path(target, sourceLocation: sourceLocation))
    }

    @Test("An exact pattern matches exactly that path: no more segments, no fewer, no trailing slash")
    func exact() throws {
        #expect(try Self.matches("/api/task_list", "/api/task_list"))
        #expect(try Self.matches("/api/task_list", "/api/task_list?data=x"))
        #expect(try Self.matches("/api/task_list", "/api/task%5Flist"), "matched after decoding")
        #expect(try !Self.matches("/api/task_list", "/api/task_lists"))
        #expect(try !Self.matches("/api/task_list", "/api/task_lis"))
        #expect(try !Self.matches("/api/task_list", "/api"))
        #expect(try !Self.matches("/api/task_list", "/api/task_list/"))
        #expect(try !Self.matches("/api/task_list", "/api/task_list/x"))
        #expect(try !Self.matches("/api/task_list", "/x/api/task_list"))
        #expect(try !Self.matches("/api/task_list", "/API/task_list"))
        #expect(try Self.matches("/", "/"))
        #expect(try !Self.matches("/", "/a"))
        #expect(try Self.matches("/static/", "/static/"))
        #expect(try !Self.matches("/static/", "/static"))
    }

    @Test("* matches a run of characters within one segment, never across /")
    func starInSegment() throws {
        #expect(try Self.matches("/api/*_list", "/api/task_list"))
        #expect(try Self.matches("/api/*_list", "/api/worker_list"))
        #expect(try Self.matches("/api/*_list", "/api/_list"))
        #expect(try !Self.matches("/api/*_list", "/api/task_lists"))
        #expect(try !Self.matches("/api/*_list", "/api/x/task_list"))
        #expect(try Self.matches("/api/*", "/api/anything"))
        #expect(try !Self.matches("/api/*", "/api/a/b"))
        #expect(try !Self.matches("/api/*", "/api"))
        #expect(try Self.matches("/*/task_list", "/api/task_list"))
        #expect(try !Self.matches("/*/task_list", "/a/b/task_list"))
        #expect(try Self.matches("/history/by_id/*", "/history/by_id/42"))
        #expect(try !Self.matches("/history/by_id/*", "/history/by_id/42/x"))
    }

    @Test("A last segment ** matches the rest of the path: nothing, one segment or many")
    func doubleStar() throws {
        #expect(try Self.matches("/static/**", "/static"))
        #expect(try Self.matches("/static/**", "/static/"))
        #expect(try Self.matches("/static/**", "/static/a.js"))
        #expect(try Self.matches("/static/**", "/static/visualiser/lib/d3.js"))
        #expect(try !Self.matches("/static/**", "/staticx"))
        #expect(try !Self.matches("/static/**", "/staticx/a.js"))
        #expect(try !Self.matches("/static/**", "/"))
        #expect(try !Self.matches("/static/**", "/api/static/a.js"))
        #expect(try Self.matches("/**", "/"))
        #expect(try Self.matches("/**", "/a"))
        #expect(try Self.matches("/**", "/a/b/c/"))
        #expect(try Self.matches("/a/*/**", "/a/b/c/d"))
        #expect(try Self.matches("/a/*/**", "/a/b"))
        #expect(try !Self.matches("/a/*/**", "/a"))
    }

    @Test(
        "Invalid patterns throw, saying why",
        arguments: [
            ("api/task_list", "must start with /"), ("", "must start with /"), ("*", "must start with /"), ("**", "must start with /"),
            ("/a%5Fb", "contains \"%\""), ("/a?b", "contains \"?\""), ("/a#b", "contains \"#\""), ("/a\\b", "contains \"\\\""),
            ("/a\u{1}b", "control character"), ("/a\u{7F}", "control character"),
            ("//", "empty segment"), ("/a//b", "empty segment"), ("//a", "empty segment"),
            ("/..", "dot segment"), ("/a/../b", "dot segment"), ("/a/./b", "dot segment"), ("/.", "dot segment"),
            ("/a**b", "** may only be"), ("/a/**/b", "** may only be"), ("/**x", "** may only be"), ("/x**", "** may only be"),
            ("/***", "** may only be"),
        ])
    func invalid(pattern: String, reason: String) {
        let error = #expect(throws: PathPattern.Invalid.self) { try PathPattern(pattern) }
        #expect(error?.reason.contains(reason) == true, "\(pattern): \(error?.reason ?? "(accepted)")")
    }

    @Test("Valid patterns keep their text")
    func valid() throws {
        for text in ["/", "/api/task_list", "/static/", "/static/**", "/**", "/api/*_list", "/a/*/**", "/caf\u{E9}", "/a b"] {
            let pattern = try PathPattern(text)
            #expect(pattern.text == text)
            #expect(pattern.description == text)
        }
    }

    @Test("Segments compare as bytes: /KPI does not match KELVIN SIGN, /Köln not a decomposed o")
    func bytes() throws {
        // The premise: Swift's String == treats these as equal.
        #expect("\u{212A}PI" == "KPI")
        #expect("Ko\u{308}ln" == "Köln")
        #expect(try Self.matches("/KPI", "/KPI"))
        #expect(try !Self.matches("/KPI", "/%E2%84%AAPI"))
        #expect(try !PathPattern("/KPI").matches(UpstreamPath(segments: ["\u{212A}PI"])))
        #expect(try !Self.matches("/K*", "/%E2%84%AAPI"))
        #expect(try Self.matches("/K*", "/KPI"))
        #expect(try Self.matches("/Köln", "/K%C3%B6ln"))
        #expect(try !Self.matches("/Köln", "/Ko%CC%88ln"))
        #expect(try PathPattern("/KPI") != PathPattern("/\u{212A}PI"))
        #expect(try PathPattern("/KPI") == PathPattern("/KPI"))
        #expect(try Set([PathPattern("/KPI"), PathPattern("/\u{212A}PI"), PathPattern("/KPI")]).count == 2)
    }
}
