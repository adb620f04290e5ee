import Synchronization

/// A response that is not ready when the handler returns: a long-poll waiting for a change.
///
/// The transport parks the request without holding a thread for it, and hands `start` the
/// request's `ResponseSink`; whoever has the answer later (a notification, a deadline) sends it
/// through the sink, from any thread. Until then the request costs a connection and a little
/// memory, not a worker thread.
public struct DeferredResponse: Sendable {
    /// Called once by the transport, right after it parked the request.
    public let start: @Sendable (ResponseSink) -> Void

    /// Creates a deferred response.
    public init(start: @escaping @Sendable (ResponseSink) -> Void) { self.start = start }
}

/// Where a deferred response goes: the first `send` delivers, later ones are ignored (a deadline
/// and a change may race to answer).
public final class ResponseSink: Sendable {
    private let deliver: @Sendable (HTTPResponse) -> Void
    private let sent = Atomic<Bool>(false)

    /// Creates a sink that hands the response to `deliver`.
    public init(_ deliver: @escaping @Sendable (HTTPResponse) -> Void) { self.deliver = deliver }

    /// Sends the response, if none was sent yet. Returns whether this call delivered it.
    @discardableResult
    public func send(_ response: HTTPResponse) -> Bool {
        guard !self.sent.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        self.deliver(response)
        return true
    }

    /// Whether a response went out already.
    public var isSent: Bool { self.sent.load(ordering: .acquiring) }
}
