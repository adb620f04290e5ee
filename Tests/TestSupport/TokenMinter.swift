public import Foundation
import Locking

/// Keys and signed tokens (compact JWS) made at test time by an implementation that shares no
/// code with Sluice: `mint.py` next to this file, which uses Python's `cryptography` package.
///
/// One Python process serves one minter; it makes each key on first use and signs one spec at a
/// time (the spec members are documented at the top of mint.py). A minter either knows a fixed
/// catalogue of keys (`init(catalogue:)`), or makes a key for any name (`init()`: RSA-2048 for a
/// name that starts with `rsa`, else P-256; the kid is the name, and the JWK also carries `use`
/// and `alg`).
///
/// ```swift
/// let minter = try TokenMinter()
/// defer { minter.close() }
/// let jwks = try minter.jwks(["ec-1"])
/// let token = try minter.token(["key": "ec-1", "payload": ["sub": "dana", "exp": 2_000_000_000]])
/// ```
///
/// CI: scripts/test makes `python3` with the `cryptography` package available (`pip install
/// cryptography`; Debian's python3-cryptography ≥ 38 works too).
///
/// Thread safety: requests are serialised by a lock, so tests running in parallel may share one
/// minter.
public final class TokenMinter: Sendable {
    /// Why a key or token could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, as mint.py or the channel to it said.
        public let description: String

        /// Creates a failure with the given explanation.
        public init(_ description: String) { self.description = description }
    }

    /// How a catalogue key is made.
    public struct KeySpec: Sendable {
        /// The key type and size.
        public enum Kind: Sendable {
            /// A P-256 key (ES256).
            case ec
            /// An RSA key (RS256) of `bits` bits with the public exponent `exponent`.
            case rsa(bits: Int, exponent: Int)
        }

        /// The key type and size.
        public let kind: Kind
        /// The `kid` its JWK carries.
        public let kid: String

        /// A key of `kind` whose JWK carries `kid`.
        public init(_ kind: Kind, kid: String) {
            self.kind = kind
            self.kid = kid
        }

        /// The form mint.py reads.
        var json: [String: Any] {
            switch self.kind {
            case .ec: ["kind": "EC", "kid": self.kid]
            case .rsa(let bits, let exponent): ["kind": "RSA", "bits": bits, "exponent": exponent, "kid": self.kid]
            }
        }
    }

    /// One generated key, as mint.py describes it.
    public struct Key: Sendable {
        /// The `kid` its JWK carries.
        public let kid: String
        /// The public JWK (with `kid`), compact JSON text.
        public let jwk: String
        /// The JWK with its private members (`d`, and for RSA `p`, `q`).
        public let privateJWK: String
        /// The public key as a PEM `PUBLIC KEY`.
        public let publicPEM: String
    }

    /// mint.py, next to this file in the source tree.
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("mint.py")

    private let process: ChildProcess
    /// Bytes received after the last complete line; also the lock that serialises requests.
    private let pending = Locked<[UInt8]>([])
    /// Keys already described, by name.
    private let described = Locked<[String: Key]>([:])

    /// Starts mint.py for keys made on demand, for any name.
    /// - Throws: `Failure` if Python or its `cryptography` package is missing.
    public convenience init() throws {
        try self.init(catalogue: [:], onDemand: true)
    }

    /// Starts mint.py for the keys of `catalogue` only.
    /// - Throws: `Failure` if Python or its `cryptography` package is missing.
    public convenience init(catalogue: [String: KeySpec]) throws {
        try self.init(catalogue: catalogue, onDemand: false)
    }

    private init(catalogue: [String: KeySpec], onDemand: Bool) throws {
        self.process = try ChildProcess(
            path: "/usr/bin/env", arguments: ["python3", Self.script.path, "serve"], stdin: .channel, stdout: .channel,
            stderr: .inherit)
        do {
            _ = try self.exchange(["op": "configure", "catalogue": catalogue.mapValues(\.json), "on_demand": onDemand])
        } catch {
            self.close()
            throw error
        }
    }

    deinit { self.close() }

    /// Ends the Python process (also done when the minter goes away).
    public func close() {
        self.process.closeChannel()
        self.process.terminate(signal: SIGTERM, timeout: .seconds(5))
    }

    /// The key named `name` (made now if it is new).
    /// - Throws: `Failure` if there is no such key in the catalogue, or mint.py failed.
    public func key(_ name: String) throws -> Key {
        if let key = self.described.withLock({ $0[name] }) { return key }
        let response = try self.exchange(["op": "key", "name": name])
        guard let entry = response["key"] as? [String: Any], let kid = entry["kid"] as? String, let jwk = entry["jwk"] as? String,
            let privateJWK = entry["private_jwk"] as? String, let pem = entry["public_pem"] as? String
        else { throw Failure("mint.py key \(name): unexpected answer \(response)") }
        let key = Key(kid: kid, jwk: jwk, privateJWK: privateJWK, publicPEM: pem)
        self.described.withLock { $0[name] = key }
        return key
    }

    /// A JWKS document (`{"keys":[…]}`) with the public JWKs of the named keys, then the raw JSON
    /// texts of `extra` members.
    public func jwks(_ names: [String], extra: [String] = []) throws -> String {
        let members = try names.map { try self.key($0).jwk } + extra
        return "{\"keys\":[\(members.joined(separator: ","))]}"
    }

    /// Signs a spec (see mint.py) and returns the compact token.
    /// - Throws: `Failure` with mint.py's explanation if the spec cannot be signed.
    public func token(_ spec: [String: Any]) throws -> String {
        var request = spec
        request["op"] = "sign"
        let response = try self.exchange(request)
        guard let token = response["token"] as? String else { throw Failure("mint.py: no token in the answer \(response)") }
        return token
    }

    /// Signs each spec; see `token(_:)`.
    public func tokens(_ specs: [[String: Any]]) throws -> [String] {
        try specs.map(self.token)
    }

    /// Sends one JSON request line and reads one JSON response line; an `error` member is thrown.
    private func exchange(_ request: [String: Any]) throws -> [String: Any] {
        var line = Array(try JSONSerialization.data(withJSONObject: request))
        line.append(UInt8(ascii: "\n"))
        let answer = try self.pending.withLock { pending -> [UInt8] in
            do { try self.process.send(line) } catch {
                throw Failure("cannot write to mint.py (\(error)); \(self.hint())")
            }
            while true {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let answer = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    return answer
                }
                let chunk = try self.process.receive()
                guard !chunk.isEmpty else { throw Failure("mint.py exited; \(self.hint())") }
                pending += chunk
            }
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any] else {
            throw Failure("mint.py answered something other than a JSON object")
        }
        if let error = object["error"] as? String { throw Failure("mint.py: \(error)") }
        return object
    }

    /// What to check when mint.py does not answer.
    private func hint() -> String {
        "is python3 with the `cryptography` package installed (pip install cryptography)? "
            + "\(self.process.isRunning ? "it still runs" : "it ended: \(self.process.terminationDescription)") "
            + "(its stderr is in the test output)"
    }
}
