import ByteStrings
import Crypto
public import Foundation
public import HTTP

/// A configured service token: only its SHA-256 is stored.
public struct ServiceToken: Sendable, Hashable {
    /// The token's name (the principal's user name is `token:<name>`).
    public var name: String
    /// SHA-256 of the token text.
    public var digest: [UInt8]
    /// Roles the token holds.
    public var roles: Set<String>
    /// After this instant the token is refused.
    public var expires: Date?

    /// Creates a token entry.
    public init(name: String, digest: [UInt8], roles: Set<String>, expires: Date?) {
        self.name = name
        self.digest = digest
        self.roles = roles
        self.expires = expires
    }

    /// The prefix of every token Sluice issues; it lets secret scanners recognise leaked tokens.
    public static let prefix = "slc_"

    /// A new random token: the prefix and 256 bits from OpenSSL's DRBG, base64url.
    public static func generate() -> String {
        self.prefix + Base64URL.encode(SecureRandom.bytes(32))
    }
}

/// Authenticates `Authorization: Bearer slc_…` against configured service tokens by comparing
/// SHA-256 digests in constant time. Bearer values without the prefix are not this source's
/// (they may be signed assertions) and are left to the next source.
public struct ServiceTokenAuthenticator: Authenticator {
    private let tokens: [ServiceToken]
    /// Each token's principal, made once here rather than for every request (its roles as the
    /// policy compares them: bytes).
    private let principals: [Principal]
    private let now: @Sendable () -> Date
    /// Digests of the tokens the worker threads saw last.
    private let digests = RecentTokenDigests()

    /// Creates the authenticator; `now` is injectable for tests.
    public init(tokens: [ServiceToken], now: @escaping @Sendable () -> Date = Date.init) {
        self.tokens = tokens
        self.principals = tokens.map { entry in
            Principal(
                user: "token:\(entry.name)", source: .serviceToken, isAmbient: false, roles: Set(entry.roles.map { ByteString($0) }),
                sourceName: entry.name)
        }
        self.now = now
    }

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        // The prefix as bytes: `hasPrefix` compares Characters, so "slc_" followed by a combining
        // mark would not count as the prefix.
        guard let token = BearerToken.value(in: request), token.utf8.starts(with: ServiceToken.prefix.utf8) else { return .absent }
        let digest = self.digests.digest(of: Array(token.utf8))
        // Compare against every entry, so the time taken does not depend on which one matches.
        var match: Int? = nil
        for (i, entry) in self.tokens.enumerated() where ConstantTime.equals(entry.digest, digest) { match = i }
        guard let match else {
            return .invalid(.init(.serviceToken, .unknownToken, "unknown service token (sha256 prefix \(Hex.encode(digest.prefix(4))))"))
        }
        let entry = self.tokens[match]
        if let expires = entry.expires, self.now() >= expires {
            return .invalid(.init(.serviceToken, .tokenExpired, "service token \(entry.name) expired"))
        }
        return .authenticated(self.principals[match])
    }
}

/// Reads `Authorization: Bearer <token>`.
public enum BearerToken {
    /// The token, if the request has a Bearer authorization (scheme case-insensitive).
    public static func value(in request: HTTPRequest) -> String? {
        guard let header = request.header("Authorization") else { return nil }
        let bytes = Array(header.utf8)
        // Scheme: skip leading spaces, then "bearer" in any case, then at least one space.
        var start = 0
        while start < bytes.count, bytes[start] == 0x20 { start += 1 }
        let scheme = Array("bearer".utf8)
        guard bytes.count - start > scheme.count, bytes[start + scheme.count] == 0x20 else { return nil }
        for (i, letter) in scheme.enumerated() where bytes[start + i] | 0x20 != letter { return nil }
        // Trim spaces and tabs by hand: Foundation's trimmingCharacters showed in profiles.
        var from = start + scheme.count
        var to = bytes.count
        while from < to, bytes[from] == 0x20 || bytes[from] == 0x09 { from += 1 }
        while to > from, bytes[to - 1] == 0x20 || bytes[to - 1] == 0x09 { to -= 1 }
        // An empty token is returned as such: credentials that are present but wrong are refused,
        // not taken for absent.
        return String(decoding: bytes[from..<to], as: UTF8.self)
    }
}
