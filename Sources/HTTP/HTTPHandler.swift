/// Something that answers requests synchronously. The FastCGI front end calls it from its worker
/// threads, so implementations must be thread-safe and must not block on long work.
public protocol HTTPHandler: Sendable {
    /// Produces the response for `request`. Never throws: errors are rendered into responses.
    func respond(to request: HTTPRequest) -> HTTPResponse
}
