import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Keys and tokens made at test time by an independent implementation: `Fixtures/mint.py`, which
/// uses Python's `cryptography` package and none of Sluice's code. One Python process serves the
/// whole test run: it generates every key once (P-256 `ec1`, `ec2`, `attacker`; RSA-2048 `rsa1`,
/// `rsa2`; RSA-1024 `rsa1024`; RSA-2048 with e = 3 `rsa_e3`) and then signs one JSON spec per
/// line on its stdin (the spec format is documented at the top of mint.py).
///
/// CI: scripts/test must make `python3` with the `cryptography` package available
/// (`pip install cryptography`; Debian's python3-cryptography ≥ 38 works too).
/// The lead adds `exclude: ["Fixtures"]` to the IdentityTests target in Package.swift.
final class Minter: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// One generated key, as mint.py describes it.
    struct Key: Sendable {
        /// The `kid` its JWK carries.
        let kid: String
        /// The public JWK (with `kid`), compact JSON text.
        let jwk: String
        /// The JWK with its private members (`d`, and for RSA `p`, `q`).
        let privateJWK: String
        /// The public key as a PEM `PUBLIC KEY`.
        let publicPEM: String
    }

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mint.py")

    /// Started on first use and kept for the whole test process (one key generation per run).
    private static let started = Result<Minter, any Error> { try Minter() }

    /// The shared minter; throws (failing the calling test) if Python or `cryptography` is missing.
    static func shared() throws -> Minter { try self.started.get() }

    /// The generated keys by name.
    let keys: [String: Key]
    private let channel: Channel

    private init() throws {
        // A dead Python must surface as a thrown error, not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        self.channel = try Channel(script: Self.script)
        let response = try self.channel.exchange(["op": "keys"])
        guard let described = response["keys"] as? [String: Any] else { throw Failure("mint.py keys: unexpected answer") }
        var keys: [String: Key] = [:]
        for (name, value) in described {
            guard let entry = value as? [String: Any], let kid = entry["kid"] as? String, let jwk = entry["jwk"] as? String,
                let privateJWK = entry["private_jwk"] as? String, let pem = entry["public_pem"] as? String
            else { throw Failure("mint.py keys: malformed entry \(name)") }
            keys[name] = Key(kid: kid, jwk: jwk, privateJWK: privateJWK, publicPEM: pem)
        }
        self.keys = keys
    }

    /// The key named `name` (a test bug if absent).
    func key(_ name: String) throws -> Key {
        guard let key = self.keys[name] else { throw Failure("mint.py has no key named \(name)") }
        return key
    }

    /// Signs a spec (see mint.py) and returns the compact token.
    func token(_ spec: [String: Any]) throws -> String {
        var request = spec
        request["op"] = "sign"
        let response = try self.channel.exchange(request)
        if let error = response["error"] as? String { throw Failure("mint.py: \(error)") }
        guard let token = response["token"] as? String else { throw Failure("mint.py: no token in the answer") }
        return token
    }

    /// The pipes to the Python process, used by one request at a time.
    private final class Channel: @unchecked Sendable {
        private let process = Process()
        private let input: FileHandle
        private let output: FileHandle
        private let lock = NSLock()
        private var buffer: [UInt8] = []

        init(script: URL) throws {
            let stdin = Pipe()
            let stdout = Pipe()
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            self.process.arguments = ["python3", script.path, "serve"]
            self.process.standardInput = stdin
            self.process.standardOutput = stdout
            self.input = stdin.fileHandleForWriting
            self.output = stdout.fileHandleForReading
            try self.process.run()
        }

        /// Sends one JSON request line and reads one JSON response line.
        func exchange(_ request: [String: Any]) throws -> [String: Any] {
            var line = try JSONSerialization.data(withJSONObject: request)
            line.append(UInt8(ascii: "\n"))
            self.lock.lock()
            defer { self.lock.unlock() }
            do { try self.input.write(contentsOf: line) } catch {
                throw Failure("cannot write to mint.py (\(error)); is python3 with `cryptography` installed?")
            }
            let answer = try self.readLine()
            guard let object = try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any] else {
                throw Failure("mint.py answered something other than a JSON object")
            }
            return object
        }

        private func readLine() throws -> [UInt8] {
            while true {
                if let newline = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(self.buffer[..<newline])
                    self.buffer.removeSubrange(...newline)
                    return line
                }
                let chunk = self.output.availableData
                guard !chunk.isEmpty else {
                    throw Failure("mint.py exited; is python3 with the `cryptography` package installed (pip install cryptography)?")
                }
                self.buffer.append(contentsOf: chunk)
            }
        }
    }
}
