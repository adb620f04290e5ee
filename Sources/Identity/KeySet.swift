import ByteStrings
public import Crypto
import Foundation
import JSON

/// One verification key: its `kid`, the one algorithm it may verify, and the key.
public struct KeyEntry: Sendable {
    /// The key id, a lookup key only (docs/security.md, JWT checklist J9).
    public let kid: String?
    /// The algorithm the key is bound to (J6).
    public let algorithm: SignatureAlgorithm
    /// The checked key.
    public let key: PublicKey

    /// Creates an entry.
    public init(kid: String?, algorithm: SignatureAlgorithm, key: PublicKey) {
        self.kid = kid
        self.algorithm = algorithm
        self.key = key
    }

    /// The entry for a validated JWK.
    public init(_ jwk: JWK) { self.init(kid: jwk.kid, algorithm: jwk.algorithm, key: jwk.key) }
}

/// The verification keys of one issuer, parsed from a JWKS document.
public struct KeySet: Sendable {
    /// Usable keys.
    public let keys: [KeyEntry]
    /// Keys that were skipped, with the reason (unknown `kty`, weak, private...), for the log (J23).
    public let skipped: [String]

    /// The largest JWKS document accepted (J1).
    public static let maxDocumentBytes = 64 << 10
    /// The most keys accepted in one document.
    public static let maxKeys = 20

    /// Creates a set from validated JWKs.
    public init(keys: [JWK], skipped: [String] = []) {
        self.init(entries: keys.map(KeyEntry.init), skipped: skipped)
    }

    /// Creates a set from entries.
    public init(entries: [KeyEntry], skipped: [String] = []) {
        self.keys = entries
        self.skipped = skipped
    }

    /// Parses a JWKS document (`{"keys": [...]}`) strictly: duplicate members are refused,
    /// unusable keys are skipped with a reason, and a document with no usable key is an error.
    public static func parse(_ bytes: [UInt8]) throws(AssertionError) -> KeySet {
        guard bytes.count <= self.maxDocumentBytes else {
            throw AssertionError(.keysUnavailable, "JWKS larger than \(self.maxDocumentBytes) bytes")
        }
        let root: JSONValue
        do { root = try JSONParser.parse(bytes, json5: false).value } catch {
            throw AssertionError(.keysUnavailable, "JWKS is not valid JSON (\(error))")
        }
        guard case .object(let members) = root, case .array(let entries)? = members["keys"] else {
            throw AssertionError(.keysUnavailable, "JWKS has no keys array")
        }
        guard entries.count <= self.maxKeys else { throw AssertionError(.keysUnavailable, "JWKS has more than \(self.maxKeys) keys") }
        var keys: [JWK] = []
        var skipped: [String] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let object) = entry else {
                skipped.append("keys[\(index)]: not an object")
                continue
            }
            var jwkMembers: [String: JWKMember] = [:]
            for (name, value) in object {
                switch value {
                case .string(let s): jwkMembers[name] = .string(s)
                case .array(let items):
                    let strings = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
                    jwkMembers[name] = strings.count == items.count ? .strings(strings) : .other
                default: jwkMembers[name] = .other
                }
            }
            do { keys.append(try JWK(members: jwkMembers)) } catch {
                let kid = (object["kid"]).flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                skipped.append("keys[\(index)] (kid \(kid)): \(error)")
            }
        }
        guard !keys.isEmpty else { throw AssertionError(.keysUnavailable, "JWKS has no usable key (\(skipped.joined(separator: "; ")))") }
        return KeySet(keys: keys, skipped: skipped)
    }

    /// The one key for `kid` and `algorithm` (J9): with a `kid`, exactly one key with that `kid`,
    /// and it must be bound to `algorithm`; without, exactly one key bound to `algorithm`.
    func key(kid: String?, algorithm: SignatureAlgorithm) -> KeyEntry? {
        // `kid` by bytes, not Swift's canonical equivalence: a lookup key matches only itself.
        let candidates =
            kid.map { k in self.keys.filter { $0.kid?.bytesEqual(k) == true } } ?? self.keys.filter { $0.algorithm == algorithm }
        guard candidates.count == 1, candidates[0].algorithm == algorithm else { return nil }
        return candidates[0]
    }

    /// Whether any key carries `kid`.
    func contains(kid: String) -> Bool { self.keys.contains { $0.kid == kid } }
}
