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

    /// Blocks until every worker thread has finished its last request and exited.
    public func waitForWorkers() {
        self.workers.wait()
        self.socket.unlinkIfOwned()
    }

    /// Whether `stopAccepting()` has been called.
    public var isDraining: Bool { self.draining.load(ordering: .relaxed) }

    private func serve() {
        // libfcgi keeps pointers back into the request from its streams, so the request lives at a
        // stable heap address for the thread's whole life rather than in a Swift local.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        guard FCGX_InitRequest(request, self.socket.fd, 0) == 0 else {
            self.logger.error("FCGX_InitRequest failed")
            return
        }
        defer { FCGX_Free(request, 1) }
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
            self.write(response, to: request)
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
        let head = response.cgiHead
        let out = request.pointee.out
        var ok = Array(head.utf8).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), out) >= 0 }
        }
        if ok && !response.body.isEmpty {
            ok = response.body.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), out) >= 0 }
            }
        }
        // FCGX_PutStr may report success after the client went away; the flush tells the truth
        // (EPIPE when lighttpd closed the connection because the client aborted).
        if !ok || FCGX_FFlush(out) < 0 {
            self.logger.info("client went away before the response was sent", ["errno": String(FCGX_GetError(out))])
        }
    }
}
