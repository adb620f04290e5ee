import Crypto
import Foundation

/// Loading of the Wycheproof vector files in `Fixtures/wycheproof` (copied from C2SP/wycheproof
/// `testvectors_v1`, Apache 2.0, see the LICENSE file there). Located via `#filePath`, so the
/// tests run from a clean clone without any shared directory.
enum WycheproofFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/wycheproof")

    /// Decodes one vector file with `JSONDecoder` (test-only; production JSON goes elsewhere).
    static func load<Group: Decodable>(_ name: String, as _: Group.Type = Group.self) throws -> VectorFile<Group> {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONDecoder().decode(VectorFile<Group>.self, from: data)
    }

    /// Bytes from lower-case or upper-case hex; the vectors are well-formed, so bad input traps.
    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length in a fixture")
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: preconditionFailure("bad hex digit in a fixture")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    /// Converts decoded JSON members to the Crypto layer's representation.
    static func members(_ object: [String: JSONValue]) -> [String: JWKMember] {
        object.mapValues { value in
            switch value {
            case .string(let s): return .string(s)
            case .strings(let list): return .strings(list)
            case .other: return .other
            }
        }
    }
}

/// The common envelope of every Wycheproof file.
struct VectorFile<Group: Decodable>: Decodable {
    let numberOfTests: Int
    let testGroups: [Group]
}

/// `valid`, `invalid` or `acceptable`.
enum VectorResult: String, Decodable {
    case valid, invalid, acceptable
}

/// One signature test case (ECDSA and RSA files).
struct SignatureVector: Decodable {
    let tcId: Int
    let comment: String
    let flags: [String]
    let msg: String
    let sig: String
    let result: VectorResult
}

/// A group of `ecdsa_secp256r1_sha256_p1363_test.json` or `ecdsa_secp256r1_sha256_test.json`.
struct ECDSAGroup: Decodable {
    struct Key: Decodable {
        let curve: String
        let uncompressed: String
    }
    let publicKey: Key
    let publicKeyDer: String
    let publicKeyJwk: [String: JSONValue]?
    let sha: String
    let tests: [SignatureVector]
}

/// A group of `rsa_signature_*_sha256_test.json`.
struct RSAGroup: Decodable {
    let keySize: Int
    let keyJwk: [String: JSONValue]
    let publicKeyDer: String
    let sha: String
    let tests: [SignatureVector]
}

/// A group of `hmac_sha256_test.json`.
struct MACGroup: Decodable {
    struct Vector: Decodable {
        let tcId: Int
        let key: String
        let msg: String
        let tag: String
        let result: VectorResult
    }
    let keySize: Int
    let tagSize: Int
    let tests: [Vector]
}

/// A group of `json_web_key_test.json`.
struct JWKSetGroup: Decodable {
    struct KeySet: Decodable {
        let keys: [[String: JSONValue]]
    }
    struct Vector: Decodable {
        let tcId: Int
        let comment: String
        let jws: String
        let result: VectorResult
        let flags: [String]
    }
    let comment: String
    let `private`: KeySet
    let `public`: KeySet?
    let tests: [Vector]
}

/// A JSON member value, reduced to what a JWK needs.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case strings([String])
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let list = try? container.decode([String].self) {
            self = .strings(list)
        } else {
            self = .other
        }
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// Per-file tallies, printed so that the counts appear in the test log.
struct VectorTally: CustomStringConvertible {
    let file: String
    var run = 0
    var passed = 0
    var notes: [String] = []

    var description: String {
        "wycheproof \(file): \(run) run, \(passed) passed" + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")")
    }
}
