import Crypto
import Foundation
import HTTP
import Identity
import Locking
import Synchronization
import TestSupport
import Testing

/// Shared test material: a pinned clock, standard claims, key sets built from mint.py's keys,
/// sources and verifiers, requests, and expectations on verification results.
enum Fixture {
    /// The pinned "now" of every verification (2027-01-15).
    static let epoch = 1_800_000_000
    static let now = Date(timeIntervalSince1970: TimeInterval(epoch))
    static let issuer = "https://idp.example.com"
    static let audience = "sluice-prod"
    static let assertionHeader = "X-Test-Assertion"

    /// The keys every test may sign with (see `key`): P-256 `ec1`, `ec2`, `attacker`; RSA-2048
    /// `rsa1`, `rsa2`; RSA-1024 `rsa1024`; RSA-2048 with e = 3 `rsa_e3`.
    static let keys: [String: TokenMinter.KeySpec] = [
        "ec1": .init(.ec, kid: "ec-1"), "ec2": .init(.ec, kid: "ec-2"), "attacker": .init(.ec, kid: "attacker"),
        "rsa1": .init(.rsa(bits: 2048, exponent: 65537), kid: "rsa-1"),
        "rsa2": .init(.rsa(bits: 2048, exponent: 65537), kid: "rsa-2"),
        "rsa1024": .init(.rsa(bits: 1024, exponent: 65537), kid: "rsa-1024"),
        "rsa_e3": .init(.rsa(bits: 2048, exponent: 3), kid: "rsa-e3"),
    ]

    /// Started on first use and kept for the whole test process (each key is made once per run).
    private static let started = Result<TokenMinter, any Error> { try TokenMinter(catalogue: keys) }

    /// The shared minter of `keys`; throws (failing the calling test) if Python or `cryptography`
    /// is missing.
    static func minter() throws -> TokenMinter { try self.started.get() }

    /// Valid claims for `now`, with `changes` applied (a nil value removes the claim).
    static func claims(_ changes: [String: Any?] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": issuer, "aud": audience, "sub": "alice",
            "iat": epoch - 10, "nbf": epoch - 10, "exp": epoch + 300,
        ]
        for (name, value) in changes {
            if let value { claims[name] = value } else { claims.removeValue(forKey: name) }
        }
        return claims
    }

    /// A token signed by the named key. The header is `alg` (RS256 for `rsa*` keys, else ES256)
    /// and the key's `kid`, with `header` changes applied (nil removes); the claims are
    /// `claims(claims)`; `options` are further mint.py spec members (`pad`, `tamper_payload`...;
    /// see Tests/TestSupport/mint.py).
    static func token(
        _ key: String = "ec1", header: [String: Any?] = [:], claims changes: [String: Any?] = [:], options: [String: Any] = [:]
    ) throws -> String {
        let minter = try Fixture.minter()
        var headerObject: [String: Any] = [
            "alg": key.hasPrefix("rsa") ? "RS256" : "ES256", "kid": try minter.key(key).kid,
        ]
        for (name, value) in header {
            if let value { headerObject[name] = value } else { headerObject.removeValue(forKey: name) }
        }
        var spec = options
        spec["key"] = key
        if spec["raw_header"] == nil { spec["header"] = headerObject }
        if spec["raw_payload"] == nil { spec["payload"] = claims(changes) }
        if spec["sign"] == nil { spec["sign"] = key.hasPrefix("rsa") ? "RS256" : "ES256" }
        return try minter.token(spec)
    }

    /// A JWKS document holding the public JWKs of the named keys, then any raw `extra` members.
    static func jwks(_ names: [String], extra: [String] = []) throws -> [UInt8] {
        Array(try self.minter().jwks(names, extra: extra).utf8)
    }

    /// A key set of the named keys.
    static func keySet(_ names: [String]) throws -> KeySet { try KeySet.parse(self.jwks(names)) }

    /// A source for the test issuer and audience.
    static func source(keys: any KeyProvider, algorithms: Set<SignatureAlgorithm> = [.es256, .rs256]) -> AssertionSource {
        AssertionSource(
            name: "test-idp", header: assertionHeader, issuer: issuer, audiences: [audience], algorithms: algorithms,
            keys: keys, groupsClaim: "groups")
    }

    /// A verifier over a static key set of the named keys, at the pinned `now`; `configure` may
    /// change the source.
    static func verifier(
        keys names: [String] = ["ec1", "rsa1"], now: Date = Fixture.now, _ configure: (inout AssertionSource) -> Void = { _ in }
    ) throws -> AssertionVerifier {
        var source = self.source(keys: StaticKeyProvider(try self.keySet(names)))
        configure(&source)
        return AssertionVerifier(source: source, now: { now })
    }

    /// A request with these CGI params.
    static func request(_ params: [String: String]) -> HTTPRequest {
        HTTPRequest(method: "GET", requestURI: "/sluice/jobs", scriptName: "/sluice", paramsDictionary: params)
    }

    /// The token's three segments, and the token rebuilt from segments.
    static func segments(_ token: String) -> [String] { token.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    static func join(_ segments: [String]) -> String { segments.joined(separator: ".") }
}

/// Expects a refusal with `code`.
func expectRefused(
    _ result: Result<VerifiedAssertion, AssertionError>, _ code: AssertionError.Code, sourceLocation: SourceLocation = #_sourceLocation
) {
    switch result {
    case .success(let assertion):
        Issue.record("accepted (user \(assertion.user)), expected refusal with \(code)", sourceLocation: sourceLocation)
    case .failure(let error):
        #expect(error.code == code, "refused as \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects acceptance and returns the assertion.
@discardableResult
func expectAccepted(
    _ result: Result<VerifiedAssertion, AssertionError>, sourceLocation: SourceLocation = #_sourceLocation
) throws -> VerifiedAssertion {
    switch result {
    case .success(let assertion):
        return assertion
    case .failure(let error):
        Issue.record("refused: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// A JWKS endpoint double for `RemoteKeyProvider`'s injected fetcher: it serves the document
/// the test chose (or fails), and records every URL asked for.
final class FakeJWKSEndpoint: Sendable {
    enum Reply: Sendable {
        /// The same document whatever the URL.
        case document([UInt8])
        /// A document per last path component (AWS ALB serves one PEM per kid); others fail.
        case byName([String: [UInt8]])
        case failure
    }

    private struct State {
        var reply: Reply
        var urls: [URL] = []
    }

    private let state: Locked<State>

    init(_ reply: Reply) { self.state = Locked(State(reply: reply)) }

    /// Serves `reply` from now on.
    func serve(_ reply: Reply) { self.state.withLock { $0.reply = reply } }
    /// How many fetches were made.
    var calls: Int { self.state.withLock { $0.urls.count } }
    /// The URLs fetched, in order.
    var urls: [URL] { self.state.withLock { $0.urls } }

    var fetcher: RemoteKeyProvider.Fetcher {
        { url, _, maxBytes in
            let reply = self.state.withLock { state in
                state.urls.append(url)
                return state.reply
            }
            switch reply {
            case .document(let bytes) where bytes.count <= maxBytes: return bytes
            case .byName(let documents):
                guard let bytes = documents[url.lastPathComponent], bytes.count <= maxBytes else {
                    throw AssertionError(.keysUnavailable, "fake endpoint: not found")
                }
                return bytes
            case .document, .failure: throw AssertionError(.keysUnavailable, "fake endpoint failure")
            }
        }
    }
}
