import Foundation
import Identity
import TestSupport
import Testing

@testable import Sluice

@Suite struct CSRFTokensTests {
    let tokens = CSRFTokens(secret: Array(repeating: 7, count: 32))
    let alice = Principal(user: "alice", source: .remoteUser, isAmbient: true)
    let bob = Principal(user: "bob", source: .remoteUser, isAmbient: true)

    @Test("A token is valid for its user and action only, and only within its lifetime")
    func binding() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = self.tokens.token(for: self.alice, action: "trigger:etl", now: now)
        #expect(self.tokens.isValid(token, for: self.alice, action: "trigger:etl", now: now))
        #expect(!self.tokens.isValid(token, for: self.bob, action: "trigger:etl", now: now))
        #expect(!self.tokens.isValid(token, for: self.alice, action: "trigger:etl2", now: now))
        #expect(!self.tokens.isValid(token, for: self.alice, action: "cancel:1", now: now))
        let sameNameOtherSource = Principal(user: "alice", source: .proxyHeaders, isAmbient: true)
        #expect(!self.tokens.isValid(token, for: sameNameOtherSource, action: "trigger:etl", now: now))
        #expect(!self.tokens.isValid(token, for: self.alice, action: "trigger:etl", now: now.addingTimeInterval(13 * 3600)))
        #expect(!self.tokens.isValid(token, for: self.alice, action: "trigger:etl", now: now.addingTimeInterval(-3600)))
        #expect(!CSRFTokens(secret: Array(repeating: 8, count: 32)).isValid(token, for: self.alice, action: "trigger:etl", now: now))
    }

    @Test(
        "Malformed and tampered tokens are refused",
        arguments: ["", ".", "abc", "1.", ".AAAA", "99999999999999999999.AAAA", "1800000000.!!!!"])
    func malformed(_ token: String) {
        #expect(!self.tokens.isValid(token, for: self.alice, action: "trigger:etl"))
    }

    @Test("Changing the issue time invalidates the MAC")
    func tamperedTime() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = self.tokens.token(for: self.alice, action: "a", now: now)
        let moved = "1800000001" + token.drop(while: { $0 != "." })
        #expect(!self.tokens.isValid(String(moved), for: self.alice, action: "a", now: now))
    }

    @Test("The secret file is created once with mode 0600 and reused")
    func secretFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("csrf.key")
        let first = try CSRFTokens(secretPath: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let token = first.token(for: self.alice, action: "a")
        #expect(try CSRFTokens(secretPath: path).isValid(token, for: self.alice, action: "a"))
    }
}

@Suite struct AppFormTests {
    private func token(_ html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    @Test("The pipeline page's form triggers a job and redirects to it; a bad value re-renders with the field error")
    func triggerForm() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let page = AppHarness.text(h.send("GET", "/pipelines/etl-nightly"))
        let csrf = try #require(self.token(page))
        let form = "csrf=\(csrf)&p.date=2024-05-01&p.env="
        let response = h.send("POST", "/pipelines/etl-nightly/jobs", body: form, contentType: "application/x-www-form-urlencoded")
        #expect(response.status.code == 303)
        #expect(response.header("Location")?.hasPrefix("/sluice/jobs/") == true)
        #expect(try h.store.jobs(.init()).first?.params == ["date": "2024-05-01", "env": "staging"])
        let invalid = h.send(
            "POST", "/pipelines/etl-nightly/jobs", body: "csrf=\(csrf)&p.nope=1", contentType: "application/x-www-form-urlencoded")
        #expect(invalid.status.code == 400)
        #expect(AppHarness.text(invalid).contains("required"))
    }

    @Test("A form without a token, with another user's token, or as JSON is refused")
    func refused() throws {
        let h = try AppHarness(
            config: AppHarness.configuration().replacingOccurrences(of: #"users: ["bob"]"#, with: #"users: ["bob", "bea"]"#))
        defer { h.remove() }
        let beaToken = try #require(self.token(AppHarness.text(h.send("GET", "/pipelines/etl-nightly", user: "bea"))))
        let form = "p.date=2024-05-01"
        #expect(
            h.send("POST", "/pipelines/etl-nightly/jobs", body: form, contentType: "application/x-www-form-urlencoded").status.code == 403)
        #expect(
            h.send(
                "POST", "/pipelines/etl-nightly/jobs", body: "csrf=\(beaToken)&" + form, contentType: "application/x-www-form-urlencoded"
            ).status.code == 403)
        #expect(h.send("POST", "/pipelines/etl-nightly/jobs", body: "{}", contentType: "application/json").status.code == 415)
        #expect(try h.store.jobs(.init()).isEmpty)
        #expect(try h.store.auditRecords(.init(event: "csrf")).count == 2)
    }

    @Test("A viewer sees no trigger form; API POSTs with browser credentials must be JSON")
    func viewerAndJSON() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(self.token(AppHarness.text(h.send("GET", "/pipelines/etl-nightly", user: "vera"))) == nil)
        let id = try AppHarness.json(h.trigger())["id"] as! Int
        #expect(h.send("POST", "/api/v1/jobs/\(id)/cancel", body: "").status.code == 415)
        #expect(h.send("POST", "/api/v1/jobs/\(id)/cancel", body: "{}", contentType: "application/json").status.code == 202)
    }

    @Test("The job page offers cancel while running and retry after failure, each with a working token")
    func jobButtons() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let id = try AppHarness.json(h.trigger())["id"] as! Int
        let page = AppHarness.text(h.send("GET", "/jobs/\(id)"))
        #expect(page.contains("Cancel job") && !page.contains("Retry failed tasks"))
        let csrf = try #require(self.token(page))
        #expect(
            h.send("POST", "/jobs/\(id)/cancel", body: "csrf=\(csrf)", contentType: "application/x-www-form-urlencoded").status.code == 303)
        #expect(try h.store.job(id: Int64(id))?.cancelRequested == true)
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(id)", user: "vera")).contains("Cancel job"))
    }
}
