internal import CFastCGI
import Foundation
public import HTTP
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The FastCGI front end: a fixed pool of OS threads, each owning one libfcgi request and
/// looping accept → copy into Swift → handle → write → finish.
///
/// ```swift
/// ProcessSignals.blockInCurrentThread()          // first thing in main
/// let server = try FastCGIServer(source: .inherited, configuration: .init(), handler: app)
/// server.start()
/// _ = ProcessSignals.wait()
/// server.stopAccepting()                         // in-flight requests still finish
/// server.waitForWorkers()
/// ```
public final class FastCGIServer: Sendable {
    /// Tunables of the front end.
    public struct Configuration: Sendable {
        /// Worker threads; each serves one request at a time (lighttpd opens one connection per request).
        public var threads: Int
        /// Largest request body read; a larger `CONTENT_LENGTH` is answered with 413 unread.
        public var maxBodyBytes: Int

        /// Creates a configuration.
        public init(threads: Int = 8, maxBodyBytes: Int = 1 << 20) {
            self.threads = threads
            self.maxBodyBytes = maxBodyBytes
        }
    }

    private let socket: ListenSocket
    private let configuration: Configuration
    private let handler: any HTTPHandler
    private let logger = Logger(label: "fastcgi")
    private let draining = Atomic<Bool>(false)
    private let workers = DispatchGroup()
    /// Requests parked by a `DeferredResponse` and not answered yet.
    private let parked = Atomic<Int>(0)

    /// Initialises libfcgi and opens (or adopts) the listening socket.
    /// - Throws: `FastCGIError` if there is no usable socket.
    public init(source: ListenSource, configuration: Configuration, handler: any HTTPHandler) throws(FastCGIError) {
        // FCGX_Init must run once before any request is initialised; it also installs libfcgi's
        // SIGPIPE no-op handler, so writes to a vanished peer return EPIPE instead of killing us.
        guard FCGX_Init() == 0 else { throw FastCGIError("FCGX_Init failed") }
        self.socket = try ListenSocket.open(source)
        self.configuration = configuration
        self.handler = handler
    }

    /// Starts the worker threads.
    public func start() {
        for index in 0..<max(1, self.configuration.threads) {
            self.workers.enter()
            let thread = Thread { [self] in
                self.serve()
                self.workers.leave()
            }
            thread.name = "fastcgi-\(index)"
            thread.start()
        }
        self.logger.info(
            "accepting", ["threads": String(self.configuration.threads), "socket": self.socket.path ?? "fd \(self.socket.fd)"])
    }

    /// Stops accepting new connections; requests already being handled run to completion.
    public func stopAccepting() {
        self.draining.store(true, ordering: .sequentiallyConsistent)
        self.socket.shutdown()
    }

    /// Blocks until every worker thread has finished its last request and exited, and parked
    /// requests have been answered (at most `parkedTimeout` more; the handler is expected to
    /// answer them once it stops, as `App.beginStopping` does).
    public func waitForWorkers(parkedTimeout: Duration = .seconds(10)) {
        self.workers.wait()
        let deadline = ContinuousClock.now + parkedTimeout
        while self.parked.load(ordering: .acquiring) > 0 && ContinuousClock.now < deadline { usleep(10_000) }
        let left = self.parked.load(ordering: .acquiring)
        if left > 0 { self.logger.warning("parked requests left unanswered at exit", ["count": String(left)]) }
        self.socket.unlinkIfOwned()
    }

    /// Requests parked now (long-polls waiting for a change).
    public var parkedRequests: Int { self.parked.load(ordering: .relaxed) }

    /// Whether `stopAccepting()` has been called.
    public var isDraining: Bool { self.draining.load(ordering: .relaxed) }

    /// A new request structure on the listening socket, or nil if libfcgi refuses.
    private func newRequest() -> UnsafeMutablePointer<FCGX_Request>? {
        // libfcgi keeps pointers back into the request from its streams, so each request lives
        // at a stable heap address (not in a Swift local) until it is finished and freed.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        guard FCGX_InitRequest(request, self.socket.fd, 0) == 0 else {
            request.deallocate()
            return nil
        }
        return request
    }

    private func serve() {
        guard var request = self.newRequest() else {
            self.logger.error("FCGX_InitRequest failed")
            return
        }
        defer {
            FCGX_Free(request, 1)
            request.deallocate()
        }
        var consecutiveFailures = 0
        while true {
            let rc = FCGX_Accept_r(request)
            if rc < 0 {
                if self.isDraining { return }
                // A peer that disconnected mid-handshake or sent a malformed record; keep serving,
                // but back off if accept itself keeps failing (e.g. EMFILE).
                consecutiveFailures += 1
                self.logger.warning("accept failed", ["errno": String(-rc)])
                if consecutiveFailures > 3 { usleep(100_000) }
                continue
            }
            consecutiveFailures = 0
            let response = self.handle(request)
            if let deferred = response.deferred, let next = self.newRequest() {
                // Parked: the request (its connection and streams) now belongs to the sink, and
                // this thread goes on accepting with a fresh one. FCGX_Finish_r closes the
                // connection (lighttpd never keeps one alive) and frees the streams; the
                // structure itself is ours to free after it.
                let parkedRequest = ParkedRequest(request)
                request = next
                self.parked.add(1, ordering: .acquiringAndReleasing)
                deferred.start(
                    ResponseSink { [self] answer in
                        let request = parkedRequest.pointer
                        self.write(answer, to: request)
                        FCGX_Finish_r(request)
                        // Finish keeps the connection open when the front server asked to keep
                        // it (nginx's fastcgi_keep_conn): nothing will accept on this structure
                        // again, so close it before the structure goes.
                        FCGX_Free(request, 1)
                        request.deallocate()
                        self.parked.subtract(1, ordering: .acquiringAndReleasing)
                    })
                continue
            }
            if response.deferred != nil {
                // No memory for a fresh request: answer now rather than park.
                self.write(HTTPError(.serviceUnavailable, "busy", headers: [("Retry-After", "2")]).jsonResponse(), to: request)
            } else {
                self.write(response, to: request)
            }
            FCGX_Finish_r(request)
        }
    }

    private func handle(_ request: UnsafeMutablePointer<FCGX_Request>) -> HTTPResponse {
        // Repeated params travel apart (`repeatedParams`): the application knows which headers
        // its decisions depend on, and refuses those repeated, or merges the rest.
        let read = RequestReader.params(request.pointee.envp)
        let params = read.single
        let body: [UInt8]
        switch RequestReader.body(request.pointee.in, contentLength: params["CONTENT_LENGTH"], limit: self.configuration.maxBodyBytes) {
        case .success(let b): body = b
        case .failure(let error): return error.jsonResponse()
        }
        let httpRequest = HTTPRequest(
            method: params["REQUEST_METHOD"] ?? "GET",
            requestURI: params["REQUEST_URI"] ?? ((params["SCRIPT_NAME"] ?? "") + (params["PATH_INFO"] ?? "")),
            scriptName: params["SCRIPT_NAME"] ?? "",
            params: params, repeatedParams: read.repeated, body: body)
        return self.handler.respond(to: httpRequest)
    }

    private func write(_ response: HTTPResponse, to request: UnsafeMutablePointer<FCGX_Request>) {
        // Status last, CR/LF dropped from values: see HTTPResponse.cgiHead.
        let head = response.cgiHeadBytes
        let out = request.pointee.out
        var ok = head.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), out) >= 0 }
        }
        if ok && !response.body.isEmpty {
            ok = response.body.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), out) >= 0 }
            }
        }
        // FCGX_PutStr may report success after the client went away; closing the stream tells
        // the truth (EPIPE when lighttpd closed the connection because the client aborted).
        // Why close both streams here rather than flush and leave it to FCGX_Finish_r: libfcgi
        // writes the END_REQUEST record with whichever stream it closes last (`nWriters`), so
        // closing stderr (empty: nothing is written for it) and then stdout sends the buffered
        // body, stdout's end and END_REQUEST in one write(2). A flush first cost one more write
        // per request, and lighttpd one more wake-up. FCGX_Finish_r then finds both closed.
        let err = request.pointee.err
        if err != nil { FCGX_FClose(err) }
        if !ok || FCGX_FClose(out) < 0 {
            self.logger.info("client went away before the response was sent", ["errno": String(FCGX_GetError(out))])
        }
    }
}

/// A parked libfcgi request handed to another thread: only the sink that answers it touches it
/// again, once, so the pointer crosses threads without sharing.
private struct ParkedRequest: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<FCGX_Request>
    init(_ pointer: UnsafeMutablePointer<FCGX_Request>) { self.pointer = pointer }
}
