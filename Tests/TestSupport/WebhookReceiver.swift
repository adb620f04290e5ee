public import Foundation

/// A webhook receiver on loopback for the notification tests: `webhook_receiver.py` next to
/// this file, which verifies each request's signature with Python's own `hmac` module (not
/// Sluice's code) and logs what it received. Paths and their answers are described in the script.
public final class WebhookReceiver: @unchecked Sendable {
    /// One request as the receiver logged it.
    public struct Received {
        /// The path (`/hook`, `/redirect`, ...).
        public var path: String
        /// `X-Sluice-Delivery`.
        public var delivery: String?
        /// `X-Sluice-Event`.
        public var event: String?
        /// `X-Sluice-Attempt`.
        public var attempt: String?
        /// Whether the signature was right.
        public var signatureValid: Bool
        /// The status answered.
        public var status: Int
        /// The body, parsed.
        public var body: [String: Any]?
        /// `Content-Type`.
        public var contentType: String?
        /// The request method.
        public var method: String
    }

    /// The script, next to this file in the source tree.
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("webhook_receiver.py")

    /// The port it listens on (kept across `restart()`).
    public private(set) var port: UInt16
    private let directory: TemporaryDirectory
    private var process: ChildProcess?

    /// Starts a receiver that accepts signatures under `secret`.
    public init(secret: String) async throws {
        self.directory = try TemporaryDirectory(prefix: "sluice-webhook")
        _ = try self.directory.write("secret", secret + "\n")
        self.port = 0
        try await self.launch(port: nil)
    }

    /// `http://127.0.0.1:<port><path>`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(self.port)\(path)" }

    private func launch(port: UInt16?) async throws {
        let portFile = self.directory.file("port")
        try? FileManager.default.removeItem(atPath: portFile)
        var arguments = [Self.script.path, self.directory.file("secret"), portFile, self.directory.file("log")]
        if let port { arguments.append("\(port)") }
        let process = try ChildProcess(
            path: "/usr/bin/env", arguments: ["python3"] + arguments,
            stdout: .file(self.directory.file("output"), append: true), stderr: .sameAsStdout)
        self.process = process
        var found: UInt16? = nil
        _ = await Poll.until(within: .seconds(15), every: .milliseconds(50)) {
            found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { UInt16($0) }
            return found != nil || !process.isRunning
        }
        guard let found else {
            process.terminate(signal: SIGKILL, timeout: .seconds(2))
            throw ChildProcess.Failure("the webhook receiver did not start: \(ChildProcess.read(self.directory.file("output")))")
        }
        self.port = found
    }

    /// Stops the receiver (SIGKILL): until `restart()`, connections to its port are refused.
    public func stop() {
        self.process?.terminate(signal: SIGKILL, timeout: .seconds(5))
        self.process = nil
    }

    /// Starts it again on the same port.
    public func restart() async throws { try await self.launch(port: self.port) }

    /// Everything received so far, in order.
    public func received() -> [Received] {
        let text = ChildProcess.read(self.directory.file("log"))
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Received(
                path: object["path"] as? String ?? "", delivery: object["delivery"] as? String, event: object["event"] as? String,
                attempt: object["attempt"] as? String, signatureValid: object["signature_valid"] as? Bool ?? false,
                status: object["status"] as? Int ?? 0, body: object["body"] as? [String: Any],
                contentType: object["content_type"] as? String, method: object["method"] as? String ?? "")
        }
    }

    /// Stops it and removes its files.
    public func remove() {
        self.stop()
        self.directory.remove()
    }
}
