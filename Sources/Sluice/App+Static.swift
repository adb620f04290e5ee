import HTTP
import Pages

extension App {
    /// `GET /static/{file}`: the stylesheet and the script, cacheable for a year because their
    /// URLs carry a version (`?v=`) that changes with their content.
    func staticFile(_ context: PublicContext) throws -> HTTPResponse {
        let (type, text): (String, String)
        switch context.parameter("file") {
        case "app.css": (type, text) = ("text/css; charset=utf-8", Layout.stylesheet)
        case "app.js": (type, text) = ("text/javascript; charset=utf-8", Layout.script)
        default: throw HTTPError(.notFound, "not found")
        }
        return HTTPResponse(
            status: .ok, headers: [("Content-Type", type), ("Cache-Control", "public, max-age=31536000, immutable")],
            body: Array(text.utf8))
    }

    /// `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON API.
    func openAPI(_ context: PublicContext) throws -> HTTPResponse {
        .json(Array(OpenAPI.document(serverURL: context.mountPath).utf8))
    }
}
