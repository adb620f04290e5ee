import Crypto
import Foundation
import Identity

/// CSRF tokens for HTML forms: an HMAC-SHA256, under a server secret, of the identity (source and
/// user), the action (`trigger:etl`, `cancel:12`) and the time of issue. A token therefore works
/// only for the person it was given to, only for that action, and only for `lifetime`.
struct CSRFTokens: Sendable {
    private let secret: [UInt8]
    /// How long a token stays valid.
    let lifetime: TimeInterval = 12 * 3600

    /// Loads the secret from `path`, creating it (32 random bytes, mode 0600 from its first
    /// byte) on first start; see `SecretFile`.
    /// - Throws: `SecretFileError` naming the file, also when it does not hold exactly 32 bytes.
    init(secretPath path: String) throws {
        self.secret = try SecretFile.loadOrCreate(path: path, count: 32)
    }

    /// A secret given directly (tests).
    init(secret: [UInt8]) { self.secret = secret }

    /// A token for `principal` doing `action`, issued `now`.
    func token(for principal: Principal, action: String, now: Date = Date()) -> String {
        let issued = String(Int64(now.timeIntervalSince1970))
        return issued + "." + Base64URL.encode(self.mac(principal, action, issued))
    }

    /// Whether `token` was issued by this server to `principal` for `action`, within the lifetime.
    func isValid(_ token: String, for principal: Principal, action: String, now: Date = Date()) -> Bool {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 12, let issued = Int64(parts[0]), let mac = Base64URL.decode(parts[1]) else {
            return false
        }
        let age = now.timeIntervalSince1970 - Double(issued)
        guard age >= -60, age <= self.lifetime else { return false }
        return HMACSHA256.isValid(mac, key: self.secret, message: self.message(principal, action, String(parts[0])))
    }

    private func mac(_ principal: Principal, _ action: String, _ issued: String) -> [UInt8] {
        HMACSHA256.authenticate(key: self.secret, message: self.message(principal, action, issued))
    }

    /// Length-prefixed fields, so no two different (user, action) pairs can produce one message.
    private func message(_ principal: Principal, _ action: String, _ issued: String) -> [UInt8] {
        var out = Array("sluice-csrf-v1".utf8)
        for field in [principal.source.rawValue, principal.user, action, issued] {
            out += Array("\n\(field.utf8.count):".utf8) + Array(field.utf8)
        }
        return out
    }
}
