import Foundation
import HTTP
import Testing

@testable import Sluice

/// Keeps `/api/v1/openapi.json` in step with the router: every JSON route is documented with its
/// methods, and the document describes nothing the router does not serve.
@Suite struct OpenAPITests {
    static func document() throws -> [String: Any] {
        let data = Data(OpenAPI.document(serverURL: "/sluice").utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("The document is JSON and declares OpenAPI 3.1 with the mount path as its server")
    func shape() throws {
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        let servers = try #require(document["servers"] as? [[String: Any]])
        #expect(servers.first?["url"] as? String == "/sluice")
    }

    @Test("Every JSON route is documented with exactly its methods, and nothing else is")
    func inSyncWithRouter() throws {
        let harness = try AppHarness()
        defer { harness.remove() }
        var routed: [String: Set<String>] = [:]
        for route in harness.app.router.registered where route.target.isAPI {
            // `/jobs/:id` → `/jobs/{id}`
            let path = route.pattern.split(separator: "/", omittingEmptySubsequences: false).map {
                $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
            }.joined(separator: "/")
            routed[path, default: []].insert(route.method.lowercased())
        }
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        var documented: [String: Set<String>] = [:]
        for (path, item) in paths {
            documented[path] = Set(item.keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) })
        }
        #expect(routed == documented)
    }

    @Test("Every $ref points at a component that exists")
    func referencesResolve() throws {
        let text = OpenAPI.document(serverURL: "/sluice")
        let document = try Self.document()
        let components = try #require(document["components"] as? [String: [String: Any]])
        var refs: [String] = []
        var rest = Substring(text)
        while let range = rest.range(of: "\"$ref\": \"#/components/") {
            let tail = rest[range.upperBound...]
            let end = try #require(tail.firstIndex(of: "\""))
            refs.append(String(tail[..<end]))
            rest = tail[end...]
        }
        #expect(!refs.isEmpty)
        for ref in refs {
            let parts = ref.split(separator: "/").map(String.init)
            #expect(parts.count == 2 && components[parts[0]]?[parts[1]] != nil, "dangling $ref \(ref)")
        }
    }

    @Test("The Drain schema names exactly the members of the drain document; Health those of /healthz while draining")
    func drainSchemas() throws {
        let components = try #require(try Self.document()["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: [String: Any]])
        let drain = try #require(schemas["Drain"])
        let status = DrainControl.Status(draining: true, activeJobs: 1, runningTasks: 2, exitWhenDrained: true, exiting: false)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(App.drainDocument(status))) as? [String: Any])
        #expect(Set((drain["properties"] as? [String: Any] ?? [:]).keys) == Set(document.keys))
        #expect(Set(drain["required"] as? [String] ?? []) == Set(document.keys))
        #expect(drain["additionalProperties"] as? Bool == false)

        let health = try #require(schemas["Health"]?["properties"] as? [String: [String: Any]])
        #expect(Set(health["status"]?["enum"] as? [String] ?? []) == ["ok", "degraded", "draining", "stopping"])
        let runner = FakeRunner()
        let control = DrainControl(drainable: runner, onDrained: {})
        let h = try AppHarness(drain: control)
        defer { h.remove() }
        _ = try control.drain(exitWhenDrained: nil, by: "test")
        let answer = try AppHarness.json(h.send("GET", "/healthz", user: nil))
        #expect(Set(answer.keys).isSubset(of: Set(health.keys)), "\(answer.keys) not all in \(health.keys)")
        #expect(answer["draining"] as? Bool == true)
    }

    @Test("A hostile mount path is escaped inside the document")
    func escapedServer() throws {
        let data = Data(OpenAPI.document(serverURL: "/a\"b\\c\u{1}").utf8)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((document["servers"] as? [[String: Any]])?.first?["url"] as? String == "/a\"b\\c\u{1}")
    }
}
