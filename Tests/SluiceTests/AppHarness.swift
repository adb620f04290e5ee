import Foundation
import HTTP
import JobStore
import Locking
import SQLiteStore
import TestSupport
import Testing
import Workflow

@testable import Sluice

/// An `App` over a real SQLite store in a fresh temporary directory, with helpers to send
/// requests the way the FastCGI front end would. Call `remove()` in a `defer`.
struct AppHarness {
    /// Roles: bob operates etl-*, vera only views etl-*, sam operates the hidden pipeline `secret`.
    static func configuration(server: String = #"server: { base_path: "/sluice" },"#, identity: String = "") -> String {
        """
        {
          \(server)
          \(identity)
          roles: {
            operator: { users: ["bob"], grants: [{ pipelines: ["etl-*"], verbs: ["view", "trigger", "cancel", "retry", "logs"] }] },
            viewer: { users: ["vera"], grants: [{ pipelines: ["etl-*"], verbs: ["view"] }] },
            secret: { users: ["sam"], grants: [{ pipelines: ["secret"], verbs: ["view", "trigger", "cancel", "logs"] }] },
          },
          pipelines: {
            "etl-nightly": {
              description: "Load <b>orders</b>",
              params: { date: { required: true }, env: { default: "staging" } },
              tasks: {
                extract: { run: ["./bin/extract", "--date", "{date}"] },
                load: { run: ["./bin/load", "--env={env}"], needs: ["extract"] },
              },
            },
            secret: { tasks: { only: { run: ["/bin/true"] } } },
          },
        }
        """
    }

    let directory: TemporaryDirectory
    let configuration: Configuration
    let store: SQLiteJobStore
    let app: App
    /// The mount path requests are sent under.
    let mount: String

    /// - Parameter drain: the drain switch the app serves `/api/v1/admin/drain` with (nil: none).
    init(config: String = AppHarness.configuration(), mount: String = "/sluice", drain: DrainControl? = nil) throws {
        let directory = try TemporaryDirectory()
        do {
            self.configuration = try ConfigLoader.load(data: Data(config.utf8), file: "test.json5", directory: directory.path)
            self.store = try SQLiteJobStore(path: directory.file("jobs.db"))
        } catch {
            directory.remove()  // a test that expects the config to be refused gets no remove() call
            throw error
        }
        self.directory = directory
        self.app = App(configuration: self.configuration, store: self.store, runner: nil, drain: drain)
        self.mount = mount
    }

    func remove() { self.directory.remove() }

    /// Sends `method path` (path relative to the mount, with any query) as `user`.
    func send(
        _ method: String, _ path: String, user: String? = "bob", body: String = "", contentType: String? = nil,
        params extra: [String: String] = [:], repeated: [String: [String]] = [:]
    ) -> HTTPResponse {
        self.sendRaw(
            method, self.mount + path, scriptName: self.mount, user: user, body: body, contentType: contentType, params: extra,
            repeated: repeated)
    }

    /// Sends `GET path` as bob on a thread of its own and returns at once; `value()` waits for
    /// the answer. For long-polls: a blocking send inside a `Task` holds one of the cooperative
    /// pool's threads (two on this machine) for the whole wait, and the test's own continuation
    /// then queues behind every other test's work, long enough for the poll to time out.
    func sendOnThread(_ path: String, params: [String: String] = [:]) -> ThreadedResponse {
        let result = ThreadedResponse()
        let thread = Thread { [self] in result.set(self.send("GET", path, params: params)) }
        thread.start()
        return result
    }

    /// Sends a request with an exact request URI and SCRIPT_NAME.
    func sendRaw(
        _ method: String, _ requestURI: String, scriptName: String, user: String? = "bob", body: String = "",
        contentType: String? = nil, params extra: [String: String] = [:], repeated: [String: [String]] = [:]
    ) -> HTTPResponse {
        var params = [
            "REQUEST_METHOD": method, "REQUEST_URI": requestURI, "SCRIPT_NAME": scriptName, "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": String(body.utf8.count),
        ]
        if let user { params["REMOTE_USER"] = user }
        if let contentType { params["CONTENT_TYPE"] = contentType }
        params.merge(extra) { _, new in new }
        // As the transport hands them over: a repeated param is not also a single one.
        for name in repeated.keys { params.removeValue(forKey: name) }
        return Self.answer(
            self.app.respond(
                to: HTTPRequest(
                    method: method, requestURI: requestURI, scriptName: scriptName, paramsDictionary: params, repeatedParams: repeated,
                    body: Array(body.utf8))))
    }

    /// `response`, or for a deferred one (a parked long-poll) the answer its sink gets, waiting
    /// for it as the FastCGI front end would (up to two minutes).
    static func answer(_ response: HTTPResponse) -> HTTPResponse {
        guard let deferred = response.deferred else { return response }
        let answer = Locked<HTTPResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        deferred.start(
            ResponseSink { sent in
                answer.withLock { $0 = sent }
                done.signal()
            })
        guard done.wait(timeout: .now() + 120) == .success, let sent = answer.withLock({ $0 }) else {
            return HTTPResponse(status: .internalServerError, body: Array("no answer from the deferred response within 120 s".utf8))
        }
        return sent
    }

    /// Triggers etl-nightly through the API.
    func trigger(_ body: String = #"{"params": {"date": "2024-05-01"}}"#, pipeline: String = "etl-nightly", user: String = "bob")
        -> HTTPResponse
    {
        self.send("POST", "/api/v1/pipelines/\(pipeline)/jobs", user: user, body: body, contentType: "application/json")
    }

    /// Creates a job directly in the store (bypassing the policy); the tasks of a large pipeline
    /// get their layers as a trigger gives them, unless `layers` is false (a job created by a
    /// version that stored none).
    @discardableResult
    func createJob(
        pipeline: String = "etl-nightly", by user: String = "bob", params: [String: String] = ["date": "2024-05-01"], layers: Bool = true
    ) throws -> JobRecord {
        let definition = try #require(self.configuration.pipelines[pipeline])
        var tasks = definition.resolvedTasks(params)
        if layers, let layers = ConfigurationSnapshot(self.configuration).layers(of: definition) {
            for i in tasks.indices { tasks[i].layer = layers[i] }
        }
        return try self.store.createJob(
            NewJob(
                pipeline: pipeline, triggeredBy: user, identitySource: "remote_user", params: params,
                workingDirectory: self.configuration.directory, tasks: tasks))
    }

    /// Marks every task of the job finished in `state`.
    func finish(_ job: JobRecord, as state: TaskState = .succeeded, jobState: JobState = .succeeded) throws {
        try self.store.record(
            jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: state, exitCode: state == .succeeded ? 0 : 1) },
            jobState: jobState)
    }

    /// Marks one task running (its attempt becomes 1).
    func start(_ job: JobRecord, task: String) throws {
        try self.store.record(jobID: job.id, changes: [TaskChange(task: task, state: .running, pid: 4242)], jobState: .running)
    }

    /// Writes a task's log where the runner would.
    func writeLog(_ job: JobRecord, task: String, attempt: Int = 1, _ bytes: [UInt8]) throws {
        let path = Runner.logPath(
            logDirectory: self.configuration.server.dataDirectory + "/logs", jobID: job.id, task: task, attempt: attempt)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The response body as a JSON object.
    static func json(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        #expect(response.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
        return try #require(
            try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], sourceLocation: sourceLocation)
    }

    /// The `error` member of a JSON error response.
    static func jsonError(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let root = try self.json(response, sourceLocation: sourceLocation)
        let error = try #require(root["error"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(error["status"] as? Int == response.status.code, sourceLocation: sourceLocation)
        return error
    }

    /// The response body as text.
    static func text(_ response: HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    /// Expects an HTML response with the security headers.
    static func expectHTML(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.header("Content-Type") == "text/html; charset=utf-8", sourceLocation: sourceLocation)
        #expect(response.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true, sourceLocation: sourceLocation)
        #expect(response.header("X-Content-Type-Options") == "nosniff", sourceLocation: sourceLocation)
    }
}

/// The answer of `AppHarness.sendOnThread`, once it comes.
final class ThreadedResponse: Sendable {
    private let response = Locked<HTTPResponse?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func set(_ response: HTTPResponse) {
        self.response.withLock { $0 = response }
        self.done.signal()
    }

    /// Waits for the answer (at most a minute; then a 599 that no test expects).
    func value() -> HTTPResponse {
        guard self.done.wait(timeout: .now() + 60) == .success, let response = self.response.withLock({ $0 }) else {
            return HTTPResponse(status: HTTPStatus(code: 599, reason: "No answer within a minute"))
        }
        return response
    }
}
