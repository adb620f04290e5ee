import Foundation
import HTTP
import Testing

@testable import Sluice

extension AppTests {
    @Test("An unknown route is 404: JSON under /api/, HTML elsewhere")
    func unknownRoute() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let api = h.send("GET", "/api/v1/nothing")
        #expect(api.status.code == 404)
        _ = try AppHarness.jsonError(api)
        let page = h.send("GET", "/nothing")
        #expect(page.status.code == 404)
        AppHarness.expectHTML(page)
        #expect(AppHarness.text(page).contains("Error 404"))
    }

    @Test("Routing happens before authentication: an unknown route is 404 even without identity")
    func unknownRouteWithoutIdentity() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/nothing", user: nil).status.code == 404)
    }

    @Test("A wrong method is 405 with Allow")
    func wrongMethod() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let delete = h.send("DELETE", "/api/v1/jobs/\(job.id)")
        #expect(delete.status.code == 405)
        #expect(delete.header("Allow") == "GET")
        _ = try AppHarness.jsonError(delete)
        let getTrigger = h.send("GET", "/api/v1/pipelines/etl-nightly/jobs")
        #expect(getTrigger.status.code == 405)
        #expect(getTrigger.header("Allow") == "POST")
        let postPage = h.send("POST", "/")
        #expect(postPage.status.code == 405)
        #expect(postPage.header("Allow") == "GET")
        AppHarness.expectHTML(postPage)
        #expect(try h.store.jobs(.init()).count == 1)
    }

    @Test("A client that accepts only JSON gets JSON errors from pages too")
    func prefersJSON() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let json = h.send("GET", "/jobs/999", params: ["HTTP_ACCEPT": "application/json"])
        #expect(json.status.code == 404)
        _ = try AppHarness.jsonError(json)
        let browser = h.send("GET", "/jobs/999", params: ["HTTP_ACCEPT": "text/html,application/json;q=0.9"])
        AppHarness.expectHTML(browser)
    }

    @Test("With base_path /sluice, /sluiceX is 404 and /sluice redirects to /sluice/")
    func basePath() throws {
        let h = try AppHarness()
        defer { h.remove() }
        for uri in ["/sluiceX", "/sluiceX/", "/sluiceX/healthz", "/sluice-admin/api/v1/pipelines", "/sluice.json"] {
            let response = h.sendRaw("GET", uri, scriptName: "/sluiceX")
            #expect(response.status.code == 404, "\(uri)")
        }
        let redirect = h.sendRaw("GET", "/sluice", scriptName: "/sluice")
        #expect(redirect.status.code == 301)
        #expect(redirect.header("Location") == "/sluice/")
        let withQuery = h.sendRaw("GET", "/sluice?x=1", scriptName: "/sluice")
        #expect(withQuery.status.code == 301)
        #expect(withQuery.header("Location") == "/sluice/")
        #expect(h.sendRaw("GET", "/sluice/", scriptName: "/sluice").status.code == 200)
    }

    @Test(
        "With base_path /sluice, a path outside the mount is not served")
    func outsideBasePath() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(h.sendRaw("GET", "/api/v1/pipelines", scriptName: "").status.code == 404)
        #expect(h.sendRaw("GET", "/healthz", scriptName: "", user: nil).status.code == 404)
    }

    @Test("Without base_path, the bare SCRIPT_NAME redirects to the mount with a slash")
    func scriptNameRedirect() throws {
        let h = try AppHarness(config: AppHarness.configuration(server: ""), mount: "/deep/mount")
        defer { h.remove() }
        let redirect = h.sendRaw("GET", "/deep/mount", scriptName: "/deep/mount")
        #expect(redirect.status.code == 301)
        #expect(redirect.header("Location") == "/deep/mount/")
    }

    @Test("A configured base path wins over SCRIPT_NAME for links")
    func basePathWinsOverScriptName() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let page = AppHarness.text(h.sendRaw("GET", "/sluice/", scriptName: "/elsewhere"))
        #expect(page.contains("href=\"/sluice/jobs\""))
        #expect(!page.contains("/elsewhere"))
    }

    @Test("Without base_path, links and Location use SCRIPT_NAME as the mount path")
    func scriptNameMount() throws {
        let h = try AppHarness(config: AppHarness.configuration(server: ""), mount: "/deep/mount")
        defer { h.remove() }
        let dashboard = h.send("GET", "/")
        #expect(dashboard.status.code == 200)
        let html = AppHarness.text(dashboard)
        #expect(html.contains("href=\"/deep/mount/\""))
        #expect(html.contains("href=\"/deep/mount/jobs\""))
        #expect(html.contains("href=\"/deep/mount/pipelines/etl-nightly\""))
        #expect(!html.contains("/sluice"))
        let trigger = h.trigger()
        #expect(trigger.status.code == 202)
        let id = try #require(try AppHarness.json(trigger)["id"] as? Int)
        #expect(trigger.header("Location") == "/deep/mount/api/v1/jobs/\(id)")
        let links = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(id)"))["links"] as? [String: String]
        #expect(links == ["self": "/deep/mount/api/v1/jobs/\(id)", "html": "/deep/mount/jobs/\(id)"])
        let jobPage = AppHarness.text(h.send("GET", "/jobs/\(id)"))
        #expect(!jobPage.contains("/sluice"))
        #expect(jobPage.contains("href=\"/deep/mount/jobs\""))
        let errorPage = AppHarness.text(h.send("GET", "/jobs/999"))
        #expect(errorPage.contains("href=\"/deep/mount/\""))
        // Mounted at the root, paths are used as they come.
        let root = try AppHarness(config: AppHarness.configuration(server: ""), mount: "")
        defer { root.remove() }
        #expect(root.send("GET", "/healthz", user: nil).status.code == 200)
        #expect(AppHarness.text(root.send("GET", "/")).contains("href=\"/jobs\""))
    }

    @Test("HEAD returns the GET status and headers without a body")
    func head() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let health = h.send("HEAD", "/healthz", user: nil)
        #expect(health.status.code == 200)
        #expect(health.body.isEmpty)
        #expect(health.header("Content-Type") == "application/json")
        let page = h.send("HEAD", "/")
        #expect(page.status.code == 200)
        #expect(page.body.isEmpty)
        AppHarness.expectHTML(page)
        let missing = h.send("HEAD", "/nowhere")
        #expect(missing.status.code == 404)
        #expect(missing.body.isEmpty)
        let job = try h.createJob()
        let api = h.send("HEAD", "/api/v1/jobs/\(job.id)")
        #expect(api.status.code == 200)
        #expect(api.body.isEmpty)
    }

    @Test("HEAD never triggers anything")
    func headDoesNotTrigger() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let response = h.send("HEAD", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params":{"date":"x"}}"#, contentType: "application/json")
        #expect(response.status.code == 405)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("A browser POST from another site is refused; same-site and non-browser POSTs pass")
    func crossSite() throws {
        let h = try AppHarness()
        defer { h.remove() }
        func post(_ params: [String: String]) -> HTTPResponse {
            h.send(
                "POST", "/api/v1/pipelines/etl-nightly/jobs", body: #"{"params":{"date":"d"}}"#, contentType: "application/json", params: params)
        }
        #expect(post(["HTTP_SEC_FETCH_SITE": "cross-site"]).status.code == 403)
        #expect(post(["HTTP_SEC_FETCH_SITE": "same-site"]).status.code == 403)
        #expect(post(["HTTP_ORIGIN": "https://evil.example", "HTTP_HOST": "sluice.example"]).status.code == 403)
        #expect(post(["HTTP_ORIGIN": "null", "HTTP_HOST": "sluice.example"]).status.code == 403)
        #expect(try h.store.jobs(.init()).isEmpty)
        #expect(post(["HTTP_SEC_FETCH_SITE": "same-origin"]).status.code == 202)
        #expect(post(["HTTP_ORIGIN": "http://sluice.example", "HTTP_HOST": "sluice.example"]).status.code == 202)
        #expect(post(["HTTP_ORIGIN": "https://sluice.example", "HTTP_HOST": "sluice.example", "HTTPS": "on"]).status.code == 202)
        #expect(post([:]).status.code == 202)
    }
}
