import HTTP
import Testing

@Suite struct RouterTests {
    /// A router whose targets are labels, so a test can see which route matched.
    private func router() -> Router<String> {
        var router = Router<String>()
        router.add("GET", "/", "root")
        router.add("GET", "/jobs", "jobs")
        router.add("GET", "/jobs/", "jobs-slash")
        router.add("GET", "/jobs/new", "new-job")
        router.add("GET", "/jobs/:id", "job")
        router.add("GET", "/jobs/:id/tasks/:task/log", "log")
        router.add("POST", "/jobs/:id/cancel", "cancel")
        router.add("DELETE", "/jobs/:id/cancel", "uncancel")
        return router
    }

    private func found(_ match: Router<String>.Match) -> (target: String, parameters: [String: String])? {
        if case .found(let target, let parameters) = match { return (target, parameters) }
        return nil
    }

    private func isNotFound(_ match: Router<String>.Match) -> Bool {
        if case .notFound = match { return true }
        return false
    }

    @Test("A literal segment matches only itself and a parameter segment captures any other value")
    func literalAndParameterSegments() throws {
        let router = self.router()
        let literal = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/new")))
        #expect(literal.target == "new-job")
        #expect(literal.parameters.isEmpty)
        let parameter = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/42")))
        #expect(parameter.target == "job")
        #expect(parameter.parameters == ["id": "42"])
        let two = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/7/tasks/extract/log")))
        #expect(two.target == "log")
        #expect(two.parameters == ["id": "7", "task": "extract"])
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/job/7")))
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/JOBS")))
    }

    @Test("The root path matches only the root route")
    func root() throws {
        let router = self.router()
        #expect(try #require(self.found(router.match(method: "GET", rawPath: "/"))).target == "root")
        #expect(try #require(self.found(router.match(method: "GET", rawPath: ""))).target == "root")
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "//")))
    }

    @Test("A trailing slash is significant")
    func trailingSlash() throws {
        let router = self.router()
        #expect(try #require(self.found(router.match(method: "GET", rawPath: "/jobs"))).target == "jobs")
        #expect(try #require(self.found(router.match(method: "GET", rawPath: "/jobs/"))).target == "jobs-slash")
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/jobs/7/")))
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/jobs/7/tasks/a/log/")))
    }

    @Test("Parameters are percent-decoded")
    func percentDecodedParameters() throws {
        let router = self.router()
        let match = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/%37/tasks/caf%C3%A9%20au%20lait/log")))
        #expect(match.parameters == ["id": "7", "task": "café au lait"])
        // A plus sign is a plus in a path, not a space.
        #expect(try #require(self.found(router.match(method: "GET", rawPath: "/jobs/a+b"))).parameters == ["id": "a+b"])
    }

    @Test("An encoded slash stays inside its segment")
    func encodedSlash() throws {
        let router = self.router()
        let match = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/..%2F..%2Fetc%2Fpasswd")))
        #expect(match.target == "job")
        #expect(match.parameters == ["id": "../../etc/passwd"])
        let log = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/1/tasks/a%2fb/log")))
        #expect(log.parameters["task"] == "a/b")
    }

    @Test("Literal segments are compared after decoding")
    func decodedLiterals() throws {
        let router = self.router()
        #expect(try #require(self.found(router.match(method: "GET", rawPath: "/%6Aobs/new"))).target == "new-job")
    }

    @Test(
        "A malformed or non-UTF-8 escape anywhere in the path is not found",
        arguments: [
            "/jobs/%zz", "/jobs/%", "/jobs/%4", "/jobs/7%", "/%zzjobs", "/jobs/%ff", "/jobs/%C0%AF", "/jobs/%ED%A0%80",
            "/jobs/7/tasks/%G1/log",
        ])
    func malformedEscapes(path: String) {
        #expect(self.isNotFound(self.router().match(method: "GET", rawPath: path)))
    }

    @Test("HEAD matches a GET route")
    func headMatchesGet() throws {
        let router = self.router()
        let match = try #require(self.found(router.match(method: "HEAD", rawPath: "/jobs/3")))
        #expect(match.target == "job")
        #expect(match.parameters == ["id": "3"])
    }

    @Test("GET does not match a HEAD-only route, and HEAD does not match a POST route")
    func headIsOnlyAnAliasOfGet() {
        var router = Router<String>()
        router.add("HEAD", "/ping", "ping")
        router.add("POST", "/submit", "submit")
        guard case .methodNotAllowed(let allowed) = router.match(method: "GET", rawPath: "/ping") else {
            Issue.record("GET matched a HEAD-only route")
            return
        }
        #expect(allowed == ["HEAD"])
        guard case .methodNotAllowed(let allowedSubmit) = router.match(method: "HEAD", rawPath: "/submit") else {
            Issue.record("HEAD matched a POST route")
            return
        }
        #expect(allowedSubmit == ["POST"])
    }

    @Test("A known path with another method is 405 listing the allowed methods")
    func methodNotAllowed() {
        let router = self.router()
        guard case .methodNotAllowed(let allowed) = router.match(method: "GET", rawPath: "/jobs/9/cancel") else {
            Issue.record("expected methodNotAllowed")
            return
        }
        #expect(Set(allowed) == ["POST", "DELETE"])
        guard case .methodNotAllowed(let getOnly) = router.match(method: "PUT", rawPath: "/jobs/9") else {
            Issue.record("expected methodNotAllowed")
            return
        }
        #expect(getOnly == ["GET"])
    }

    @Test("Methods are compared exactly")
    func methodCase() {
        guard case .methodNotAllowed = self.router().match(method: "get", rawPath: "/jobs") else {
            Issue.record("a lower-case method matched")
            return
        }
    }

    @Test("An unknown path is not found for every method")
    func unknownPath() {
        let router = self.router()
        for method in ["GET", "HEAD", "POST", "DELETE", "BREW"] {
            #expect(self.isNotFound(router.match(method: method, rawPath: "/nothing/here")))
        }
    }

    @Test("An empty parameter segment does not match")
    func emptyParameter() {
        let router = self.router()
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/jobs//tasks/a/log")))
        #expect(self.isNotFound(router.match(method: "GET", rawPath: "/jobs/1/tasks//log")))
        #expect(self.isNotFound(router.match(method: "POST", rawPath: "/jobs//cancel")))
    }

    @Test("An empty router finds nothing")
    func emptyRouter() {
        #expect(self.isNotFound(Router<String>().match(method: "GET", rawPath: "/")))
    }

    @Test("A very long path with many segments is simply not found")
    func oversizedPath() throws {
        let router = self.router()
        let long = String(repeating: "/a", count: 50_000)
        #expect(self.isNotFound(router.match(method: "GET", rawPath: long)))
        let huge = try #require(self.found(router.match(method: "GET", rawPath: "/jobs/" + String(repeating: "%41", count: 100_000))))
        #expect(huge.parameters["id"] == String(repeating: "A", count: 100_000))
    }
}

@Suite struct RouterDotSegmentTests {
    @Test(
        "Dot segments, plain or percent-encoded, never resolve to a route",
        arguments: [
            "/x/../healthz", "/./healthz", "/%2e%2e/healthz", "/%2E/healthz", "/jobs/../jobs/1",
        ])
    func dotSegments(_ path: String) {
        var router = Router<String>()
        router.add("GET", "/healthz", "health")
        router.add("GET", "/jobs/:id", "job")
        router.add("GET", "/x/:y/healthz", "x")
        guard case .notFound = router.match(method: "GET", rawPath: path) else {
            Issue.record("\(path) matched a route")
            return
        }
    }
}

@Suite struct RouterByteTests {
    @Test("Literal segments and methods are compared as bytes, not by Unicode canonical equivalence")
    func canonicalEquivalentsDoNotMatch() {
        var router = Router<String>()
        router.add("GET", "/caf\u{E9}", "precomposed")
        router.add("GET", "/kelvin/K", "ascii")
        // "café" with a combining accent is canonically equivalent to the precomposed one.
        guard case .notFound = router.match(method: "GET", rawPath: "/cafe%CC%81") else {
            Issue.record("a decomposed é matched the precomposed route")
            return
        }
        guard case .found(let target, _) = router.match(method: "GET", rawPath: "/caf%C3%A9") else {
            Issue.record("the route's own bytes did not match")
            return
        }
        #expect(target == "precomposed")
        guard case .notFound = router.match(method: "GET", rawPath: "/kelvin/%E2%84%AA") else {
            Issue.record("KELVIN SIGN matched K")
            return
        }
    }

    @Test("Routes of every length are found, in registration order among equals")
    func lengths() {
        var router = Router<String>()
        router.add("GET", "/", "root")
        router.add("GET", "/a/b/c/d", "deep")
        router.add("GET", "/a/:x", "first")
        router.add("GET", "/a/b", "second")
        for (path, expected) in [("/", "root"), ("/a/b/c/d", "deep"), ("/a/b", "first"), ("/a/z", "first")] {
            guard case .found(let target, _) = router.match(method: "GET", rawPath: path) else {
                Issue.record("\(path) not found")
                continue
            }
            #expect(target == expected, "\(path)")
        }
        for path in ["/a", "/a/b/c", "/a/b/c/d/e"] {
            guard case .notFound = router.match(method: "GET", rawPath: path) else {
                Issue.record("\(path) matched")
                continue
            }
        }
    }
}

@Suite struct RouterSegmentTests {
    @Test("Empty segments, a missing leading slash and mixed escaped and plain segments split as before")
    func shapes() {
        var router = Router<String>()
        router.add("GET", "/a/:b/c", "abc")
        router.add("GET", "/:x/y", "xy")
        if case .found(let target, let parameters) = router.match(method: "GET", rawPath: "/a/h%C3%A9llo/c") {
            #expect(target == "abc" && parameters["b"] == "héllo")
        } else {
            Issue.record("an escaped segment between plain ones was not found")
        }
        if case .found(let target, let parameters) = router.match(method: "GET", rawPath: "a/y") {
            #expect(target == "xy" && parameters["x"] == "a")
        } else {
            Issue.record("a path without its leading slash was not routed like one with it")
        }
        // "//y": an empty first segment, which a parameter never captures.
        guard case .notFound = router.match(method: "GET", rawPath: "//y") else {
            Issue.record("an empty segment matched a parameter")
            return
        }
    }

    @Test(
        "An escape that decodes to invalid UTF-8, or a malformed escape, is not found",
        arguments: ["/a/%FF/c", "/a/%C3/c", "/a/%zz/c", "/a/%4/c"])
    func badEscapes(_ path: String) {
        var router = Router<String>()
        router.add("GET", "/a/:b/c", "abc")
        guard case .notFound = router.match(method: "GET", rawPath: path) else {
            Issue.record("\(path) matched")
            return
        }
    }

    @Test("A slash followed by a combining mark still splits the path: segments are split at the byte, not at Characters")
    func combiningMarkAfterSlash() {
        var router = Router<String>()
        router.add("GET", "/jobs/:id", "job")
        router.add("GET", "/jobs/:id/:more", "deeper")
        // "/jobs/a/\u{301}b": String.split would keep "a/\u{301}b" together (the slash and the
        // mark form one Character), and a parameter could then contain a slash.
        guard case .found(let target, let parameters) = router.match(method: "GET", rawPath: "/jobs/a/\u{301}b") else {
            Issue.record("not found")
            return
        }
        #expect(target == "deeper")
        #expect(parameters["id"] == "a")
        #expect(parameters["more"]?.utf8.elementsEqual("\u{301}b".utf8) == true)
    }
}
