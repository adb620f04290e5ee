import Foundation
import HTTP
import Testing

@testable import Sluice

/// The app in-process: authentication, routing, and how errors render.
@Suite struct AppTests {
    @Test("healthz answers 200 without identity")
    func healthz() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.send("GET", "/healthz", user: nil)
        #expect(response.status.code == 200)
        #expect(try AppHarness.json(response)["status"] as? String == "ok")
    }

    @Test("healthz answers 503 while stopping")
    func healthzStopping() throws {
        let h = try AppHarness()
        defer { h.remove() }
        h.app.beginStopping()
        let response = h.send("GET", "/healthz", user: nil)
        #expect(response.status.code == 503)
        #expect(try AppHarness.json(response)["status"] as? String == "stopping")
    }

    @Test("A request without REMOTE_USER is 401, as JSON on the API and HTML on pages")
    func noIdentity() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let api = h.send("GET", "/api/v1/pipelines", user: nil)
        #expect(api.status.code == 401)
        #expect(try AppHarness.jsonError(api)["message"] as? String == "authentication required")
        let page = h.send("GET", "/", user: nil)
        #expect(page.status.code == 401)
        AppHarness.expectHTML(page)
    }

    @Test("An empty REMOTE_USER counts as absent")
    func emptyRemoteUser() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines", user: "").status.code == 401)
        #expect(h.trigger(user: "").status.code == 401)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("Client headers that look like identities are never trusted")
    func forgedHeaders() throws {
        let h = try AppHarness()
        defer { h.remove() }
        for name in ["HTTP_REMOTE_USER", "HTTP_X_FORWARDED_USER", "HTTP_X_REMOTE_USER", "HTTP_AUTHORIZATION"] {
            let response = h.send("GET", "/api/v1/pipelines", user: nil, params: [name: "bob"])
            #expect(response.status.code == 401, "\(name) was trusted")
        }
        let trigger = h.send(
            "POST", "/api/v1/pipelines/etl-nightly/jobs", user: nil, body: #"{"params":{"date":"x"}}"#, contentType: "application/json",
            params: ["HTTP_REMOTE_USER": "bob"])
        #expect(trigger.status.code == 401)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test(
        "A REMOTE_USER with a control character or of excessive length is 401",
        arguments: [
            "bob\n", "bob\r\nX-Injected: 1", "bob\u{0}", "\u{1b}[31mbob", "bob\u{7f}", "bob\u{85}", String(repeating: "b", count: 257),
        ])
    func invalidRemoteUser(user: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines", user: user).status.code == 401)
        #expect(h.trigger(user: user).status.code == 401)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("A bad REMOTE_USER is refused even on routes that need no identity")
    func invalidRemoteUserOnHealthz() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/healthz", user: "bob\n").status.code == 401)
    }

    @Test("A 256-byte user name is still accepted")
    func longestUser() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines", user: String(repeating: "b", count: 256)).status.code == 200)
    }

    @Test("With the identity block lacking remote_user, REMOTE_USER is not an identity source")
    func remoteUserDisabled() throws {
        let h = try AppHarness(config: AppHarness.configuration(identity: "identity: {},"))
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines").status.code == 401)
        #expect(h.send("GET", "/healthz", user: nil).status.code == 200)
    }

    @Test(
        "The 401 page does not show a rejected user name as signed in")
    func rejectedUserNotShown() throws {
        let h = try AppHarness(config: AppHarness.configuration(identity: "identity: {},"))
        defer { h.remove() }
        let page = h.send("GET", "/", user: "mallory")
        #expect(page.status.code == 401)
        #expect(!AppHarness.text(page).contains("mallory"))
    }

    @Test("Every response carries a fresh X-Request-Id")
    func requestID() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let responses = [
            h.send("GET", "/healthz", user: nil), h.send("GET", "/"), h.send("GET", "/api/v1/pipelines", user: nil),
            h.send("GET", "/nowhere"), h.send("DELETE", "/api/v1/jobs/1"), h.sendRaw("GET", "/sluice", scriptName: "/sluice"),
            h.trigger(), h.send("HEAD", "/healthz", user: nil),
        ]
        var seen: Set<String> = []
        for response in responses {
            let id = try #require(response.header("X-Request-Id"))
            #expect(id.count == 12)
            #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == responses.count)
    }

    @Test("HTML responses carry CSP, nosniff and frame-ancestors 'none', errors included")
    func htmlSecurityHeaders() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        for (path, status) in [
            ("/", 200), ("/jobs", 200), ("/jobs/\(job.id)", 200), ("/jobs/\(job.id)/tasks/extract/log", 200), ("/jobs/999", 404),
            ("/nowhere", 404), ("/jobs?limit=0", 400),
        ] {
            let response = h.send("GET", path)
            #expect(response.status.code == status, "\(path)")
            AppHarness.expectHTML(response)
        }
        let unauthenticated = h.send("GET", "/jobs", user: nil)
        #expect(unauthenticated.status.code == 401)
        AppHarness.expectHTML(unauthenticated)
        let wrongMethod = h.send("POST", "/jobs")
        #expect(wrongMethod.status.code == 405)
        AppHarness.expectHTML(wrongMethod)
    }

    @Test("A store failure is a 500 that names the request id and leaks nothing else")
    func internalError() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let app = App(configuration: h.configuration, store: FailingJobStore(), runner: nil)
        let request = HTTPRequest(
            method: "GET", requestURI: "/sluice/api/v1/jobs/1", scriptName: "/sluice", params: ["REMOTE_USER": "bob"])
        let response = app.respond(to: request)
        #expect(response.status.code == 500)
        let message = try #require(try AppHarness.jsonError(response)["message"] as? String)
        #expect(message == "internal error (request \(response.header("X-Request-Id") ?? "?"))")
        #expect(!AppHarness.text(response).contains("disk on fire"))
        let page = app.respond(
            to: HTTPRequest(method: "GET", requestURI: "/sluice/", scriptName: "/sluice", params: ["REMOTE_USER": "bob"]))
        #expect(page.status.code == 500)
        AppHarness.expectHTML(page)
        #expect(!AppHarness.text(page).contains("disk on fire"))
    }
}

@Suite struct AppReloadTests {
    @Test("reload puts a new policy in force for the next request and changes the health hash")
    func reloadSwapsPolicy() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let before = try AppHarness.json(h.send("GET", "/healthz", user: nil))["config"] as? String
        #expect(h.send("GET", "/api/v1/pipelines/etl-nightly", user: "vera").status.code == 200)
        let stricter = AppHarness.configuration().replacingOccurrences(of: #"users: ["vera"]"#, with: #"users: ["erin"]"#)
        let next = try ConfigLoader.load(data: Data(stricter.utf8), file: "test.json5", directory: h.directory.path)
        h.app.reload(next)
        let after = try AppHarness.json(h.send("GET", "/healthz", user: nil))["config"] as? String
        #expect(before != nil && after != nil && before != after)
        #expect(h.send("GET", "/api/v1/pipelines/etl-nightly", user: "vera").status.code == 404)
        #expect(h.send("GET", "/api/v1/pipelines/etl-nightly", user: "erin").status.code == 200)
    }
}
