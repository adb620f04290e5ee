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
/// receiver cannot send the signed body elsewhere). The answer's body is never read.
///
/// One session for the whole process (`shared`), never invalidated. Why: on Linux, tearing a
/// session down races the cancellation of the dispatch sources that watch libcurl's sockets (a
/// known use-after-free, swift-corelibs-foundation #4791 and its successors, with timeouts and
/// refused connections as the usual triggers); a session per batch crashed a test process here.
///
/// Each batch has a hard deadline (the longest timeout plus a second). Why: FoundationNetworking's
/// timeout counts only silence (a receiver trickling a byte every half second never times out),
/// and cancelling a task waits for the session's queue, which can be busy copying a large 3xx
/// body. So the caller never waits past the deadline: what has not answered by then is a
/// failure, and its tasks are cancelled on another queue.
final class WebhookSender: Sendable {
    /// The process's sender.
    static let shared = WebhookSender()

    private let session: URLSession
    private let router: Router

    private init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // Every request of a batch may go to one receiver: none waits for another's connection.
        configuration.httpMaximumConnectionsPerHost = Notifier.batchSize
        self.router = Router()
        self.session = URLSession(configuration: configuration, delegate: self.router, delegateQueue: nil)
    }

    /// Sends every request at once and waits for all of them, at most the longest timeout plus
    /// a second: the answers in the requests' order.
    func send(_ requests: [WebhookRequest]) -> [WebhookAnswer] {
        guard !requests.isEmpty else { return [] }
        let batch = Batch(count: requests.count)
        var tasks: [URLSessionDataTask] = []
        for (index, request) in requests.enumerated() {
            var r = URLRequest(url: request.url)
            r.httpMethod = "POST"
            r.timeoutInterval = TimeInterval(request.timeout)
            r.httpBody = Data(request.body)
            for (name, value) in request.headers { r.setValue(value, forHTTPHeaderField: name) }
            let task = self.session.dataTask(with: r)
            self.router.register(task.taskIdentifier, batch: batch, index: index)
            tasks.append(task)
        }
        for task in tasks { task.resume() }
        let longest = requests.map(\.timeout).max() ?? 1
        let (answers, late) = batch.wait(until: Date().addingTimeInterval(TimeInterval(longest) + 1))
        if !late.isEmpty {
            // Cancelling may block on the session's queue: never on the caller's thread.
            let stragglers = late.map { tasks[$0] }
            DispatchQueue.global().async { for task in stragglers { task.cancel() } }
        }
        return answers
    }

    /// One batch's answers.
    private final class Batch: @unchecked Sendable {
        // @unchecked Sendable: all state is behind `condition`.
        private let condition = NSCondition()
        private var answers: [WebhookAnswer?]
        private var open: Int

        init(count: Int) {
            self.answers = Array(repeating: nil, count: count)
            self.open = count
        }

        /// The answers once all arrived or at `deadline` (those missing then are failures), and
        /// the indexes of the requests that had no answer.
        func wait(until deadline: Date) -> ([WebhookAnswer], late: [Int]) {
            self.condition.lock()
            defer { self.condition.unlock() }
            while self.open > 0 && self.condition.wait(until: deadline) {}
            // Later answers find `open` at 0 and change nothing.
            self.open = 0
            let late = self.answers.indices.filter { self.answers[$0] == nil }
            return (self.answers.map { $0 ?? .failed("no answer within the timeout") }, late)
        }

        func finish(_ index: Int, _ answer: WebhookAnswer) {
            self.condition.lock()
            defer { self.condition.unlock() }
            guard self.open > 0, self.answers[index] == nil else { return }
            self.answers[index] = answer
            self.open -= 1
            if self.open == 0 { self.condition.broadcast() }
        }
    }

    /// The session's delegate: hands each task's answer to its batch; refuses every redirect.
    private final class Router: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        // @unchecked Sendable: the only state is `batches`, behind its lock; the delegate's
        // methods run on the session's own queue.
        private let batches = Locked<[Int: (Batch, Int)]>([:])

        func register(_ task: Int, batch: Batch, index: Int) {
            self.batches.withLock { $0[task] = (batch, index) }
        }

        /// Hands `answer` to the task's batch; `last` forgets the task (it has completed).
        private func finish(_ task: Int, _ answer: WebhookAnswer, last: Bool = false) {
            let entry = self.batches.withLock { last ? $0.removeValue(forKey: task) : $0[task] }
            entry.map { batch, index in batch.finish(index, answer) }
        }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            // The redirect is the answer: recorded now, and not followed (nil).
            self.finish(task.taskIdentifier, .status(response.statusCode))
            completionHandler(nil)
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            // The status is all that is needed: the answer's body is not read.
            if let status = (response as? HTTPURLResponse)?.statusCode { self.finish(dataTask.taskIdentifier, .status(status)) }
            completionHandler(.cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {}

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            if let status = (task.response as? HTTPURLResponse)?.statusCode {
                self.finish(task.taskIdentifier, .status(status), last: true)
            } else {
                self.finish(task.taskIdentifier, .failed(error.map { $0.localizedDescription } ?? "no answer"), last: true)
            }
        }
    }
}
