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
    /// Whole seconds the attempt may take from its start to its answer, whatever the receiver does.
    var timeout: Int
}

/// What became of one POST.
enum WebhookAnswer: Sendable, Equatable {
    /// The receiver answered with this status (a redirect is an answer too: it is not followed).
    case status(Int)
    /// No answer: the connection failed, timed out or broke.
    case failed(String)
}

/// Sends notifications with FoundationNetworking (libcurl): without cookies or caches, and
/// without following redirects, so a notification reaches only the URL configured for it (a
/// receiver cannot send the signed body elsewhere). The answer's body is read and dropped.
///
/// Each batch gets a session of its own and a hard deadline (the longest timeout plus a
/// second). Why: FoundationNetworking's timeout counts only silence (a receiver trickling a
/// byte every half second never times out), and cancelling a task waits for the session's
/// queue, which can be busy for minutes copying a large 3xx body. So the batch's caller never
/// waits past the deadline; what has not answered by then is a failure, and its session is
/// cancelled and invalidated on another queue.
final class WebhookSender: Sendable {
    /// Sends every request at once and waits for all of them, at most the longest timeout plus
    /// a second: the answers in the requests' order.
    func send(_ requests: [WebhookRequest]) -> [WebhookAnswer] {
        guard !requests.isEmpty else { return [] }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // Every request of a batch may go to one receiver: none waits for another's connection.
        configuration.httpMaximumConnectionsPerHost = max(requests.count, 1)
        let batch = Batch(count: requests.count)
        let session = URLSession(configuration: configuration, delegate: batch, delegateQueue: nil)
        var tasks: [URLSessionDataTask] = []
        for (index, request) in requests.enumerated() {
            var r = URLRequest(url: request.url)
            r.httpMethod = "POST"
            r.timeoutInterval = TimeInterval(request.timeout)
            r.httpBody = Data(request.body)
            for (name, value) in request.headers { r.setValue(value, forHTTPHeaderField: name) }
            let task = session.dataTask(with: r)
            batch.register(task.taskIdentifier, index: index)
            tasks.append(task)
        }
        for task in tasks { task.resume() }
        let longest = requests.map(\.timeout).max() ?? 1
        let answers = batch.wait(until: Date().addingTimeInterval(TimeInterval(longest) + 1))
        // Cancelling may block on the session's queue: never on the caller's thread.
        DispatchQueue.global().async { session.invalidateAndCancel() }
        return answers
    }

    /// One batch's answers, filled in by the session's delegate callbacks; refuses every redirect.
    private final class Batch: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        // @unchecked Sendable: all state is behind `condition`; the delegate's methods run on
        // the session's own queue, `wait` on the caller's thread.
        private let condition = NSCondition()
        private var answers: [WebhookAnswer?]
        private var statuses: [Int: Int] = [:]
        private var indexes: [Int: Int] = [:]
        private var open: Int

        init(count: Int) {
            self.answers = Array(repeating: nil, count: count)
            self.open = count
        }

        func register(_ task: Int, index: Int) {
            self.condition.lock()
            self.indexes[task] = index
            self.condition.unlock()
        }

        /// The answers once all arrived or at `deadline`; those missing then are failures.
        func wait(until deadline: Date) -> [WebhookAnswer] {
            self.condition.lock()
            defer { self.condition.unlock() }
            while self.open > 0 && self.condition.wait(until: deadline) {}
            // Later callbacks find `open` at 0 and change nothing.
            self.open = 0
            return self.answers.map { $0 ?? .failed("no answer within the timeout") }
        }

        private func finish(_ task: Int, _ answer: WebhookAnswer) {
            self.condition.lock()
            defer { self.condition.unlock() }
            guard self.open > 0, let index = self.indexes.removeValue(forKey: task), self.answers[index] == nil else { return }
            self.answers[index] = answer
            self.open -= 1
            if self.open == 0 { self.condition.broadcast() }
        }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            // The redirect is the answer: recorded now, not followed (nil), and the rest of it
            // is not waited for.
            self.finish(task.taskIdentifier, .status(response.statusCode))
            completionHandler(nil)
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            // The status is all that is needed: the answer is complete as far as Sluice cares,
            // and its body is not read.
            if let status = (response as? HTTPURLResponse)?.statusCode { self.finish(dataTask.taskIdentifier, .status(status)) }
            completionHandler(.cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {}

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            if let status = (task.response as? HTTPURLResponse)?.statusCode {
                self.finish(task.taskIdentifier, .status(status))
            } else {
                self.finish(task.taskIdentifier, .failed(error.map { $0.localizedDescription } ?? "no answer"))
            }
        }
    }
}
