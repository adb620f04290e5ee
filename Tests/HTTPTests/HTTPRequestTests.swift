import HTTP
import Testing

@Suite struct HTTPRequestTests {
    @Test("Headers are looked up by their CGI names")
    func headerNames() {
        let request = HTTPRequest(
            method: "POST", requestURI: "/",
            params: [
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "12", "HTTP_X_FORWARDED_USER": "mallory",
                "HTTP_ACCEPT": "text/html", "HTTP_IDEMPOTENCY_KEY": "k1",
            ])
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("content-type") == "application/json")
        #expect(request.header("Content-Length") == "12")
        #expect(request.header("X-Forwarded-User") == "mallory")
        #expect(request.header("x-forwarded-user") == "mallory")
        #expect(request.header("Accept") == "text/html")
        #expect(request.header("Idempotency-Key") == "k1")
        #expect(request.header("X-Missing") == nil)
    }

    @Test("Content type and length are not read from HTTP_ params")
    func contentTypeIsNotAnHTTPParam() {
        let request = HTTPRequest(method: "POST", requestURI: "/", params: ["HTTP_CONTENT_TYPE": "application/json"])
        #expect(request.header("Content-Type") == nil)
    }

    @Test("An empty CONTENT_TYPE or CONTENT_LENGTH reads as absent")
    func emptyContentType() {
        let request = HTTPRequest(method: "GET", requestURI: "/", params: ["CONTENT_TYPE": "", "CONTENT_LENGTH": ""])
        #expect(request.header("Content-Type") == nil)
        #expect(request.header("Content-Length") == nil)
    }

    @Test("Header names map punctuation to underscores, as CGI does")
    func punctuation() {
        let request = HTTPRequest(method: "GET", requestURI: "/", params: ["HTTP_X_FORWARDED_USER": "eve"])
        #expect(request.header("X_Forwarded_User") == "eve")
        #expect(request.header("X.Forwarded.User") == "eve")
    }

    @Test("Headers never reach non-HTTP params such as REMOTE_USER")
    func remoteUserIsNotAHeader() {
        let request = HTTPRequest(method: "GET", requestURI: "/", params: ["REMOTE_USER": "alice"])
        #expect(request.header("Remote-User") == nil)
        #expect(request.header("REMOTE_USER") == nil)
    }

    @Test("The raw path is everything before the first question mark, still encoded")
    func rawPath() {
        #expect(HTTPRequest(method: "GET", requestURI: "/a/b%2Fc?x=1?y=2").rawPath == "/a/b%2Fc")
        #expect(HTTPRequest(method: "GET", requestURI: "/a/b").rawPath == "/a/b")
        #expect(HTTPRequest(method: "GET", requestURI: "/?").rawPath == "/")
        #expect(HTTPRequest(method: "GET", requestURI: "?q").rawPath == "")
        #expect(HTTPRequest(method: "GET", requestURI: "").rawPath == "")
        // A `?` followed by a combining mark is one Character with it, but the front server
        // splits at the byte: so does Sluice.
        let marked = HTTPRequest(method: "GET", requestURI: "/api/v1/jobs/7?\u{301}wait=5")
        #expect(Array(marked.rawPath.utf8) == Array("/api/v1/jobs/7".utf8))
        #expect(marked.query.keys.map { Array($0.utf8) } == [Array("\u{301}wait".utf8)])
    }

    @Test("The query is decoded, and the first value of a repeated name wins")
    func query() {
        let request = HTTPRequest(method: "GET", requestURI: "/jobs?pipeline=etl%2Dnightly&limit=5&limit=500&q=a+b&bad=%zz")
        #expect(request.query == ["pipeline": "etl-nightly", "limit": "5", "q": "a b", "bad": "%zz"])
        #expect(HTTPRequest(method: "GET", requestURI: "/jobs").query == [:])
        #expect(HTTPRequest(method: "GET", requestURI: "/jobs?").query == [:])
        // Only the first ? separates the query; later ones belong to it.
        #expect(HTTPRequest(method: "GET", requestURI: "/x?a=1?b=2").query == ["a": "1?b=2"])
    }

    @Test("The initializer keeps every value as given")
    func initializer() {
        let request = HTTPRequest(method: "PUT", requestURI: "/u", scriptName: "/s", params: ["A": "b"], body: [1, 2, 3])
        #expect(request.method == "PUT")
        #expect(request.requestURI == "/u")
        #expect(request.scriptName == "/s")
        #expect(request.params == ["A": "b"])
        #expect(request.body == [1, 2, 3])
        let defaults = HTTPRequest(method: "GET", requestURI: "/")
        #expect(defaults.scriptName == "")
        #expect(defaults.params.isEmpty)
        #expect(defaults.body.isEmpty)
    }

    @Test("Repeated params merge as HTTP joins field lines, in order; a name that must be single is a 400 naming the header")
    func mergingRepeatedParams() throws {
        let request = HTTPRequest(
            method: "GET", requestURI: "/", params: ["HTTP_HOST": "h"],
            repeatedParams: ["HTTP_ACCEPT": ["text/html", "application/json"], "HTTP_X_A": ["1", "2", "3"]])
        let merged = try request.mergingRepeatedParams { _ in false }
        #expect(merged.header("Accept") == "text/html, application/json")
        #expect(merged.header("X-A") == "1, 2, 3")
        #expect(merged.header("Host") == "h")
        #expect(merged.repeatedParams.isEmpty)
        let error = try #require(throws: HTTPError.self) {
            try request.mergingRepeatedParams { $0 == "HTTP_X_A" }
        }
        #expect(error.status.code == 400)
        #expect(error.message.contains("X-A"), "\(error.message)")
        // Nothing repeated: the request as it was, and the check is never asked.
        let plain = HTTPRequest(method: "GET", requestURI: "/", params: ["HTTP_ACCEPT": "a"])
        #expect(
            try plain.mergingRepeatedParams { _ in
                Issue.record("asked"); return true
            }.params == plain.params)
    }

    @Test(
        "A header's CGI param name",
        arguments: [
            ("X-Forwarded-User", "HTTP_X_FORWARDED_USER"), ("x_forwarded_user", "HTTP_X_FORWARDED_USER"), ("Accept", "HTTP_ACCEPT"),
            ("X-\u{212A}", "HTTP_X____"),
        ])
    func paramName(header: String, param: String) {
        #expect(HTTPRequest.paramName(ofHeader: header) == param)
    }

    @Test("The media type is the Content-Type before any parameter, without spaces or tabs around it, in lower case")
    func mediaType() {
        func type(_ value: String?) -> String? {
            HTTPRequest(method: "POST", requestURI: "/", paramsDictionary: value.map { ["CONTENT_TYPE": $0] } ?? [:]).mediaType
        }
        #expect(type("application/json") == "application/json")
        #expect(type("Application/JSON; charset=utf-8") == "application/json")
        #expect(type(" \tapplication/json\t ;x") == "application/json")
        #expect(type("application/json;") == "application/json")
        #expect(type("TEXT/Plain") == "text/plain")
        #expect(type(";charset=utf-8") == "")
        // Only ASCII letters change case; other bytes are kept, so such a type matches nothing.
        #expect(type("applicÄtion/json") == "applicÄtion/json")
        #expect(type(nil) == nil)
        #expect(type("") == nil, "an empty Content-Type counts as none")
    }
}
