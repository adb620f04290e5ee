import Foundation
import Locking

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One POST of a notification.
struct WebhookRequest: Sendable {
    /// Where.
    var url: URL
    /// The headers, signature included.
    var headers: [(String, String)]
    /// The body.
    var body: [UInt8]
    /// Seconds the attempt may take.
    var timeout: TimeInterval
}

/// What became of one POST.
enum WebhookAnswer: Sendable, Equatable {
    /// The receiver answered with this status (a redirect is an answer too: it is not followed).
    case status(Int)
    /// No answer: the connection failed, timed out or broke.
    case failed(String)
}

/// Sends notifications with FoundationNetworking (libcurl): one session for every webhook,
/// without cookies or caches, and without following redirects, so a notification reaches only
/// the URL configured for it (a receiver cannot send the signed body elsewhere). The answer's
/// body is read and dropped, so a receiver cannot make Sluice hold a large answer.
final class WebhookSender: Sendable {
    private let session: URLSession
    private let delegate: Delegate

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 4
        self.delegate = Delegate()
        self.session = URLSession(configuration: configuration, delegate: self.delegate, delegateQueue: nil)
    }

    deinit { self.session.invalidateAndCancel() }

    /// Sends every request at once and waits for all of them (each at most its timeout, plus a
    /// second): the answers in the requests' order.
    func send(_ requests: [WebhookRequest]) -> [WebhookAnswer] {
        let group = DispatchGroup()
        var tasks: [URLSessionDataTask] = []
        for request in requests {
            var r = URLRequest(url: request.url)
            r.httpMethod = "POST"
            r.timeoutInterval = request.timeout
            r.httpBody = Data(request.body)
            for (name, value) in request.headers { r.setValue(value, forHTTPHeaderField: name) }
            let task = self.session.dataTask(with: r)
            group.enter()
            self.delegate.begin(task.taskIdentifier) { group.leave() }
            tasks.append(task)
        }
        for task in tasks { task.resume() }
        let longest = requests.map(\.timeout).max() ?? 0
        if group.wait(timeout: .now() + longest + 1) == .timedOut {
            // libcurl should have ended each task at its timeout; whatever has not ended is cancelled.
            for task in tasks { task.cancel() }
            _ = group.wait(timeout: .now() + 1)
        }
        return tasks.map { self.delegate.end($0.taskIdentifier) }
    }

    /// Collects each task's status and end; refuses every redirect.
    private final class Delegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        private struct Pending {
            var status: Int?
            var error: String?
            var finished = false
            var done: @Sendable () -> Void
        }
        // @unchecked Sendable: all state is behind this lock; the delegate's methods run on the
        // session's own queue.
        private let pending = Locked<[Int: Pending]>([:])

        func begin(_ id: Int, done: @escaping @Sendable () -> Void) {
            self.pending.withLock { $0[id] = Pending(done: done) }
        }

        func end(_ id: Int) -> WebhookAnswer {
            let entry = self.pending.withLock { $0.removeValue(forKey: id) }
            guard let entry, entry.finished else { return .failed("no answer within the timeout") }
            if let status = entry.status { return .status(status) }
            return .failed(entry.error ?? "no answer")
        }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            // nil: the redirect is not followed; the task ends with the 3xx answer.
            completionHandler(nil)
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            let status = (response as? HTTPURLResponse)?.statusCode
            self.pending.withLock { $0[dataTask.taskIdentifier]?.status = status }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            // The answer's body is not needed: dropped as it arrives.
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            var status = (task.response as? HTTPURLResponse)?.statusCode
            let done = self.pending.withLock { pending -> (@Sendable () -> Void)? in
                guard var entry = pending[task.taskIdentifier], !entry.finished else { return nil }
                if status == nil { status = entry.status }
                entry.status = status
                if status == nil { entry.error = error.map { "\($0.localizedDescription)" } ?? "no answer" }
                entry.finished = true
                pending[task.taskIdentifier] = entry
                return entry.done
            }
            done?()
        }
    }
}
