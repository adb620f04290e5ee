import Foundation
import HTTP
import Testing

@Suite struct HTTPErrorTests {
    private func envelope(_ response: HTTPResponse) throws -> [String: Any] {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(root.keys.sorted() == ["error"])
        return try #require(root["error"] as? [String: Any])
    }

    @Test("The JSON response has the one error shape with status and message")
    func shape() throws {
        let response = HTTPError(.notFound, "no such job").jsonResponse()
        #expect(response.status == .notFound)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.body.last == 0x0a)
        let error = try self.envelope(response)
        #expect(error["status"] as? Int == 404)
        #expect(error["message"] as? String == "no such job")
        #expect(error["fields"] == nil)
        #expect(String(decoding: response.body, as: UTF8.self) == "{\"error\":{\"message\":\"no such job\",\"status\":404}}\n")
    }

    @Test("Field errors appear under fields")
    func fields() throws {
        let response = HTTPError(.badRequest, "invalid parameters", fieldErrors: ["date": "required", "env": "not allowed"]).jsonResponse()
        #expect(response.status.code == 400)
        let error = try self.envelope(response)
        #expect(error["status"] as? Int == 400)
        #expect(error["fields"] as? [String: String] == ["date": "required", "env": "not allowed"])
    }

    @Test("A hostile message and hostile field names still make valid JSON that round-trips")
    func hostileMessage() throws {
        let hostile = "quote \" backslash \\ newline \n tab \t nul \u{0} </script><script>alert(1)</script> \u{2028} 🚀"
        let response = HTTPError(.badRequest, hostile, fieldErrors: ["\"}\n{": hostile]).jsonResponse()
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.dropLast().contains("\n"))
        #expect(!text.contains("</script>"))
        let error = try self.envelope(response)
        #expect(error["message"] as? String == hostile)
        #expect(error["fields"] as? [String: String] == ["\"}\n{": hostile])
    }

    @Test("Extra headers such as Allow or Retry-After are carried into the response")
    func headers() {
        let response = HTTPError(.methodNotAllowed, "method not allowed", headers: [("Allow", "GET, POST")]).jsonResponse()
        #expect(response.status.code == 405)
        #expect(response.header("allow") == "GET, POST")
    }

    @Test("The description names the status and message")
    func description() {
        #expect(HTTPError(.forbidden, "nope").description == "HTTPError(403 Forbidden, nope)")
    }
}
