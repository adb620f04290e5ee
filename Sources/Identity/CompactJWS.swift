import Crypto
import JSON

/// A JWS in compact serialization (`header.payload.signature`), parsed strictly
/// (docs/security.md, JWT checklist J1–J4, J10): nothing here is trusted until `AssertionVerifier`
/// has checked the signature.
struct CompactJWS {
    /// The decoded protected header.
    let header: [String: JSONValue]
    /// The `alg` header value, exactly as sent.
    let algorithm: String
    /// The `kid` header value, if any.
    let kid: String?
    /// The exact ASCII bytes of `header.payload`, which the signature covers (J3: never a re-encoding).
    let signingInput: [UInt8]
    /// The decoded payload bytes (still unparsed: claims are read only after verification, J17).
    let payload: [UInt8]
    /// The decoded signature.
    let signature: [UInt8]

    /// The largest token accepted (J1).
    static let maxBytes = 8192

    /// Parses a token. `allowPadding` tolerates `=` padding in the segments (AWS ALB sends it).
    static func parse(_ token: String, allowPadding: Bool) throws(AssertionError) -> CompactJWS {
        guard token.utf8.count <= self.maxBytes else { throw AssertionError(.malformed, "token larger than \(self.maxBytes) bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        // Exactly three non-empty parts: a fourth or fifth part is JWE or garbage (J2).
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            throw AssertionError(.malformed, "not a compact JWS (expected three non-empty parts)")
        }
        let decode: (Substring) -> [UInt8]? = allowPadding ? { Base64URL.decodeAllowingPadding($0) } : { Base64URL.decode($0) }
        guard let headerBytes = decode(parts[0]), let payload = decode(parts[1]), let signature = decode(parts[2]) else {
            throw AssertionError(.malformed, "a segment is not strict base64url")
        }
        let header: [String: JSONValue]
        do {
            guard case .object(let members) = try JSONParser.parse(headerBytes, json5: false).value else {
                throw AssertionError(.malformed, "header is not a JSON object")
            }
            header = members
        } catch let error as AssertionError {
            throw error
        } catch {
            throw AssertionError(.malformed, "header is not valid JSON (\(error))")
        }
        guard case .string(let alg)? = header["alg"] else { throw AssertionError(.malformed, "header has no string alg") }
        // We understand no critical extension, so any `crit` makes the token unusable (J10).
        if header["crit"] != nil { throw AssertionError(.malformed, "header has crit") }
        // Nested JWTs are not accepted (J2, RFC 8725 §3.12).
        if case .string(let cty)? = header["cty"], cty.uppercased() == "JWT" { throw AssertionError(.malformed, "nested JWT (cty JWT)") }
        var kid: String? = nil
        switch header["kid"] {
        case nil: break
        case .string(let k)?: kid = k
        default: throw AssertionError(.malformed, "kid is not a string")
        }
        // jwk, jku, x5u and x5c are deliberately never read: keys come only from configuration (J8).
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        return CompactJWS(header: header, algorithm: alg, kid: kid, signingInput: signingInput, payload: payload, signature: signature)
    }
}
