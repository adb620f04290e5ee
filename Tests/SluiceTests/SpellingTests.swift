import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// Names are compared as bytes: every route and filter, tried with spellings that Swift's
/// `String ==` treats as equal to a configured name (KELVIN SIGN for K, NFD for NFC, GREEK
/// QUESTION MARK for `;`) and with full-width look-alikes (distinct strings). The first kind is
/// refused (400: not NFC), the second is simply another name (404, or an empty list); neither may
/// reach a job, a grant, a duplicate rule or a queue limit under the configuration's spelling.
@Suite("Names as bytes: canonically equivalent and look-alike spellings")
struct SpellingTests {
    static let config = #"""
        {
          server: { base_path: "/sluice" },
          roles: {
            ops: { users: ["bob"], grants: [{ pipelines: ["KPI-*"], verbs: ["view", "trigger", "cancel", "retry", "logs", "audit"] }] },
            koeln: { users: ["kim"], grants: [
              { pipelines: ["KPI-report"], verbs: ["view", "trigger"], params: { city: ["Köln"], sep: [";"] } },
            ] },
            doctors: { users: ["Jörg"], groups: ["Ärzte"], grants: [{ pipelines: ["KPI-report"], verbs: ["view"] }] },
          },
          pipelines: {
            "KPI-report": {
              params: {
                city: { default: "Bonn" },
                sep: { default: "," },
                region: { type: "choice", values: ["Köln", "Bonn"], default: "Bonn" },
              },
              concurrency: 1, queue_limit: 0, on_duplicate: "reject",
              tasks: { "KPI-build": { run: ["/bin/echo", "{city}", "{sep}"] } },
            },
          },
        }
        """#

    /// The configured pipeline name and other spellings of it.
    static let pipeline = "KPI-report"
    static let kelvin = "\u{212A}PI-report"
    static let fullWidth = "\u{FF2B}PI-report"

    /// Percent-encodes every byte outside unreserved ASCII, as a browser or curl would send it.
    static func encoded(_ text: String) -> String {
        text.utf8.map { byte in
            let c = Character(Unicode.Scalar(byte))
            return byte < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c)) ? String(c) : String(format: "%%%02X", byte)
        }.joined()
    }

    func harness() throws -> AppHarness { try AppHarness(config: Self.config) }

    func trigger(_ h: AppHarness, pipeline: String = Self.pipeline, user: String = "bob", params: String = "{}") -> HTTPResponse {
        h.send(
            "POST", "/api/v1/pipelines/\(Self.encoded(pipeline))/jobs", user: user, body: #"{"params": \#(params)}"#,
            contentType: "application/json")
    }

    /// Every job in the store, which must only ever carry the configuration's spelling.
    func storedPipelines(_ h: AppHarness) throws -> [String] {
        try h.store.jobs(JobQuery(limit: 500)).map(\.pipeline)
    }

    @Test("A pipeline name in another normal form is refused on every route; a look-alike is not found")
    func pipelineRoutes() throws {
        let h = try self.harness()
        defer { h.remove() }
        for (spelling, expected) in [(Self.kelvin, 400), (Self.fullWidth, 404), ("KPI-repor\u{74}\u{307}", 400)] {
            let name = Self.encoded(spelling)
            #expect(h.send("GET", "/pipelines/\(name)").status.code == expected, "\(spelling)")
            #expect(h.send("GET", "/api/v1/pipelines/\(name)").status.code == expected, "\(spelling)")
            #expect(self.trigger(h, pipeline: spelling).status.code == expected, "\(spelling)")
            let form = h.send("POST", "/pipelines/\(name)/jobs", body: "csrf=x", contentType: "application/x-www-form-urlencoded")
            #expect(form.status.code == expected, "\(spelling)")
        }
        #expect(try self.storedPipelines(h).isEmpty)
        // The configuration's own spelling still works, and is what is stored.
        #expect(self.trigger(h).status.code == 202)
        #expect(try self.storedPipelines(h).map { Array($0.utf8) } == [Array(Self.pipeline.utf8)])
    }

    @Test("on_duplicate and queue_limit cannot be bypassed with another spelling of the pipeline")
    func duplicateAndQueueLimit() throws {
        let h = try self.harness()
        defer { h.remove() }
        #expect(self.trigger(h).status.code == 202)
        #expect(self.trigger(h).status.code == 409)  // on_duplicate: reject
        #expect(self.trigger(h, params: #"{"city": "Essen"}"#).status.code == 429)  // queue full
        #expect(self.trigger(h, pipeline: Self.kelvin).status.code == 400)
        #expect(self.trigger(h, pipeline: Self.kelvin, params: #"{"city": "Essen"}"#).status.code == 400)
        #expect(self.trigger(h, pipeline: Self.fullWidth).status.code == 404)
        #expect(try self.storedPipelines(h).count == 1)
    }

    @Test(
        "A grant limited to values admits only those bytes",
        arguments: [
            ("city", "Ko\u{308}ln"), ("city", "\u{212A}öln"), ("city", "\u{FF2B}öln"), ("city", "köln"), ("sep", "\u{37E}"),
            ("sep", "\u{FF1B}"),
        ])
    func grantValues(_ parameter: String, _ value: String) throws {
        let h = try self.harness()
        defer { h.remove() }
        let others = parameter == "city" ? #""sep": ";""# : #""city": "Köln""#
        let refused = self.trigger(h, user: "kim", params: #"{"\#(parameter)": "\#(value)", \#(others)}"#)
        #expect(refused.status.code == 403)
        #expect(try self.storedPipelines(h).isEmpty)
        let allowed = self.trigger(h, user: "kim", params: #"{"city": "Köln", "sep": ";"}"#)
        #expect(allowed.status.code == 202)
        let id = try #require(try AppHarness.json(allowed)["id"] as? Int)
        let job = try #require(try h.store.job(id: Int64(id)))
        // The task receives exactly the bytes the grant names.
        #expect(job.tasks[0].argv.map { Array($0.utf8) } == [Array("/bin/echo".utf8), Array("Köln".utf8), Array(";".utf8)])
    }

    @Test("A choice parameter accepts only the configured bytes", arguments: ["Ko\u{308}ln", "\u{212A}öln", "\u{FF2B}öln"])
    func choiceValues(_ value: String) throws {
        let h = try self.harness()
        defer { h.remove() }
        let response = self.trigger(h, params: #"{"region": "\#(value)"}"#)
        #expect(response.status.code == 400)
        #expect(try AppHarness.jsonError(response)["fields"] as? [String: String] != nil)
        #expect(self.trigger(h, params: #"{"region": "Köln"}"#).status.code == 202)
    }

    @Test("A parameter name that only looks like a declared one is not that parameter")
    func parameterNames() throws {
        let h = try self.harness()
        defer { h.remove() }
        for name in ["\u{FF43}ity", "cit\u{FF59}", "ci\u{307}ty"] {
            let response = self.trigger(h, params: #"{"\#(name)": "Essen"}"#)
            #expect(response.status.code == 400, "\(name)")
        }
        #expect(try self.storedPipelines(h).isEmpty)
    }

    @Test("User and group names are matched by bytes; names not in NFC are refused at the door")
    func identityNames() throws {
        let h = try self.harness()
        defer { h.remove() }
        #expect(h.send("GET", "/api/v1/pipelines/KPI-report", user: "Jörg").status.code == 200)
        #expect(h.send("GET", "/api/v1/pipelines/KPI-report", user: "Jo\u{308}rg").status.code == 401)
        // Distinct NFC names that merely look alike hold no role.
        #expect(h.send("GET", "/api/v1/pipelines/KPI-report", user: "J\u{FF4F}\u{308}rg").status.code == 404)
        #expect(h.send("GET", "/api/v1/pipelines/KPI-report", user: "J\u{F6}rg\u{FF0E}").status.code == 404)
    }

    @Test("Job list, audit and log filters refuse other normal forms and match look-alikes to nothing")
    func filters() throws {
        let h = try self.harness()
        defer { h.remove() }
        let created = self.trigger(h)
        #expect(created.status.code == 202)
        let id = try #require(try AppHarness.json(created)["id"] as? Int)
        for path in ["/jobs", "/api/v1/jobs", "/api/v1/audit", "/audit"] {
            #expect(h.send("GET", "\(path)?pipeline=\(Self.encoded(Self.kelvin))").status.code == 400, "\(path)")
            #expect(h.send("GET", "\(path)?user=\(Self.encoded("Jo\u{308}rg"))").status.code == 400, "\(path)")
            #expect(h.send("GET", "\(path)?\(Self.encoded("pipelin\u{65}\u{301}"))=x").status.code == 400, "\(path)")
        }
        let listed = try AppHarness.json(h.send("GET", "/api/v1/jobs?pipeline=\(Self.pipeline)"))["jobs"] as? [Any]
        #expect(listed?.count == 1)
        let lookAlike = try AppHarness.json(h.send("GET", "/api/v1/jobs?pipeline=\(Self.encoded(Self.fullWidth))"))["jobs"] as? [Any]
        #expect(lookAlike?.count == 0)
        #expect(h.send("GET", "/api/v1/audit?pipeline=\(Self.encoded(Self.fullWidth))").status.code == 403)
        // Task names in log routes.
        #expect(h.send("GET", "/api/v1/jobs/\(id)/tasks/KPI-build/log").status.code != 404)
        #expect(h.send("GET", "/api/v1/jobs/\(id)/tasks/\(Self.encoded("\u{212A}PI-build"))/log").status.code == 400)
        #expect(h.send("GET", "/jobs/\(id)/tasks/\(Self.encoded("\u{212A}PI-build"))/log").status.code == 400)
        #expect(h.send("GET", "/api/v1/jobs/\(id)/tasks/\(Self.encoded("\u{FF2B}PI-build"))/log").status.code == 404)
    }

    @Test("sluice explain refuses a user or group name the server would refuse")
    func explainNames() throws {
        let h = try self.harness()
        defer { h.remove() }
        let path = h.directory.file("sluice.json5")
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: path))
        #expect(Commands.explain(configPath: path, user: "Jörg", groups: nil, token: nil, source: nil) == 0)
        #expect(Commands.explain(configPath: path, user: "Jo\u{308}rg", groups: nil, token: nil, source: nil) == 2)
        #expect(Commands.explain(configPath: path, user: "x", groups: "ops,A\u{308}rzte", token: nil, source: nil) == 2)
    }

    @Test("A form field name in another normal form is refused")
    func formFieldNames() throws {
        let h = try self.harness()
        defer { h.remove() }
        let response = h.send(
            "POST", "/pipelines/KPI-report/jobs", body: "csrf=x&p.\(Self.encoded("ci\u{307}ty"))=a&\(Self.encoded("\u{212A}"))=b",
            contentType: "application/x-www-form-urlencoded")
        #expect(response.status.code == 400)
        #expect(try self.storedPipelines(h).isEmpty)
    }
}
